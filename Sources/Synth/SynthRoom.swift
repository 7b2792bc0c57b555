/// Module `Synth`: makes rooms whose content can be checked. Participant *i* shows a solid
/// colour with a white marker moving across it and plays a sine tone of its own frequency;
/// media is encoded with the real libvpx (or libx264 for H.264 participants) and libopus, packetized to RTP, optionally impaired
/// (loss, reordering, duplication, jitter, late join, early leave, resolution change) and
/// written as Janus `.mjr` files, pcap or rtpdump.
import Media

/// What a synthetic room holds and how its packets are impaired.
public struct SynthOptions: Sendable {
    public var participants = 2
    public var seconds = 10.0
    public var videoCodec = Codec.vp8
    /// Participants (by index) that send H.264 instead of `videoCodec`, as Safari does: constrained baseline
    /// from libx264, payload type 102, RFC 6184 packetization mode 1.
    public var h264Participants: Set<Int> = []
    public var width = 640
    public var height = 360
    public var fps = 30
    public var videoBitrateKbps = 400
    public var audioBitrate = 32_000
    /// Keyframe every this many video frames.
    public var keyframeInterval = 90
    /// Fraction of packets dropped, duplicated, and delivered out of order (0...1).
    public var loss = 0.0
    public var duplicate = 0.0
    public var reorder = 0.0
    /// Extra random delay per packet, uniformly 0...jitter, milliseconds.
    public var jitterMillis = 0.0
    /// Participant index → seconds after the room start at which it starts sending.
    public var joinAt: [Int: Double] = [:]
    /// Participant index → seconds after the room start at which it stops.
    public var leaveAt: [Int: Double] = [:]
    /// At this time every participant's video switches to half width and height (new keyframe).
    public var resolutionChangeAt: Double?
    /// Participant index → from this time (s) on, its keyframes' headers declare this picture size,
    /// whatever was encoded (a hostile stream for tests, see ``PictureSizeForgery``).
    public var declaredSize: [Int: (from: Double, size: PictureSize)] = [:]
    /// Adds a white flash on the picture and a click in the audio every `flashEvery` seconds (A/V sync checks).
    public var flashEvery: Double?
    /// Janus room id used in `.mjr` file names.
    public var room = "1234"
    /// Wall-clock start of the room, Unix microseconds (fixed by default so output is reproducible).
    public var startMicros: Int64 = 1_767_225_600_000_000
    public var seed: UInt64 = 1
    /// Audio only (no video streams).
    public var audioOnly = false
    /// Peak of each participant's sine tone, as a fraction of full scale.
    public var toneAmplitude = 0.3

    public init() {}

    /// The video codec participant `index` sends: `.h264` for those in `h264Participants`, else `videoCodec`.
    public func videoCodec(of index: Int) -> Codec {
        h264Participants.contains(index) ? .h264 : videoCodec
    }
}

/// The checkable identity of synthetic participant `index`.
public struct SynthParticipant: Sendable, Equatable {
    public var index: Int
    /// Janus user id used for file names and CNAMEs (`1001`, `1002`, ...).
    public var userID: String
    public var toneHz: Double
    /// Background colour in BT.601 limited-range YUV.
    public var y: UInt8
    public var u: UInt8
    public var v: UInt8

    /// Participant `index`: tones 150 Hz apart from 350 Hz (none a harmonic of another below 8),
    /// colours from a table of well-separated hues.
    public init(index: Int) {
        self.index = index
        userID = String(1001 + index)
        toneHz = 350 + 150 * Double(index)
        let palette: [(UInt8, UInt8, UInt8)] = [
            (81, 90, 240),   // red
            (145, 54, 34),   // green
            (41, 240, 110),  // blue
            (210, 16, 146),  // yellow
            (170, 166, 16),  // cyan
            (106, 202, 222), // magenta
            (151, 44, 201),  // orange
            (70, 170, 170),  // purple-grey
        ]
        let colour = palette[index % palette.count]
        y = colour.0
        u = colour.1
        v = colour.2
    }
}

