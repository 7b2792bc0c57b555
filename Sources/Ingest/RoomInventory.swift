import Media

/// Identifies one RTP stream: an SSRC within one input file.
public struct StreamKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var input: Int
    public var ssrc: UInt32
    public init(input: Int, ssrc: UInt32) {
        self.input = input
        self.ssrc = ssrc
    }
    public static func < (a: Self, b: Self) -> Bool { (a.input, a.ssrc) < (b.input, b.ssrc) }
    public var description: String { "input \(input) ssrc \(hex(ssrc))" }
}

/// `0x` and eight hex digits.
public func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}

/// An RTCP Sender Report's clock mapping: wall clock (NTP, as Unix µs) at an RTP timestamp.
public struct ClockMapping: Sendable, Equatable {
    public var wallMicros: Int64
    public var rtpTimestamp: UInt32

    public init(wallMicros: Int64, rtpTimestamp: UInt32) {
        self.wallMicros = wallMicros
        self.rtpTimestamp = rtpTimestamp
    }
}

/// What the scan learnt about one stream.
public struct StreamInfo: Sendable {
    public var key: StreamKey
    /// The media codec; nil when unknown or unsupported (the stream is then ignored).
    public var codec: Codec?
    /// How the codec was decided: `mjr header`, `--pt`, `sdp`, `sniffed`, or why it is unknown.
    public var codecSource: String
    public var payloadType: UInt8
    /// The participant this stream belongs to (already safe as a file name).
    public var participant: String
    public var packets: Int = 0
    /// RTP packet bytes (headers included).
    public var bytes: Int = 0
    public var firstArrivalMicros: Int64 = 0
    public var lastArrivalMicros: Int64 = 0
    /// The first RTCP Sender Report of this SSRC, when the input has RTCP.
    public var senderReport: ClockMapping?
    /// The capture clock at an RTP timestamp, taken from the least-delayed packet of the stream
    /// (the smallest arrival minus media time): anchors the stream without the first packet's jitter.
    public var arrivalMapping: ClockMapping?
    /// RTCP SDES or SDP CNAME.
    public var cname: String?

    /// A stream first seen at `arrivalMicros` (a live recording declares each on its first packet).
    public init(key: StreamKey, codec: Codec?, codecSource: String, payloadType: UInt8, participant: String, arrivalMicros: Int64) {
        self.key = key
        self.codec = codec
        self.codecSource = codecSource
        self.payloadType = payloadType
        self.participant = participant
        firstArrivalMicros = arrivalMicros
        lastArrivalMicros = arrivalMicros
    }
}

/// One participant: a name and its streams.
public struct ParticipantInfo: Sendable {
    /// Safe as a file name.
    public var name: String
    public var streams: [StreamKey]
}

/// The result of scanning a room's inputs.
public struct RoomInventory: Sendable {
    public var inputs: [String]
    /// Every stream seen, in order of first appearance.
    public var streams: [StreamInfo]
    /// Participants in order of first media.
    public var participants: [ParticipantInfo]
    /// Arrival time of the room's first media packet (output time 0).
    public var firstArrivalMicros: Int64
    public var lastArrivalMicros: Int64
    /// Non-fatal findings: truncated files, unknown codecs, RTCP that did not parse.
    public var warnings: [String]

    /// The stream with `key`.
    public func stream(_ key: StreamKey) -> StreamInfo? { streams.first { $0.key == key } }
}
