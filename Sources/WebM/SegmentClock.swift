/// Where segment boundaries fall (`--segment`): segment k of a recording covers room time
/// [k·L, (k+1)·L), L a whole number of seconds. A file whose own time 0 is `offsetMillis` after
/// room time 0 (a participant who joined late) is mapped onto the same boundaries, so its files
/// line up with the composite's.
///
/// Alignment: with L in whole seconds, every 20 ms audio block and every frame of an integer frame
/// rate starts exactly on a boundary or wholly inside one segment; nothing straddles a boundary.
public struct SegmentClock: Sendable, Equatable {
    /// The shortest segment length accepted, in seconds.
    public static let minimumSeconds = 10
    /// The longest, in seconds (a year).
    public static let maximumSeconds = 366 * 86_400

    /// The segment length L.
    public let seconds: Int
    /// Room time of the file's time 0, in ms.
    public let offsetMillis: Int64

    public init(seconds: Int, offsetMillis: Int64 = 0) {
        precondition(seconds > 0, "a segment lasts at least a second")
        self.seconds = seconds
        self.offsetMillis = offsetMillis
    }

    public var lengthMillis: Int64 { Int64(seconds) * 1000 }

    /// The segment that file time `t` (ms) falls in (0 for times before room time 0).
    public func index(atMillis t: Int64) -> Int { Int(max(0, t + offsetMillis) / lengthMillis) }

    /// File time (ms) at which segment `index` starts; negative for segments before the file's start.
    public func startMillis(of index: Int) -> Int64 { Int64(index) * lengthMillis - offsetMillis }

    /// Why `seconds` cannot be a segment length, or nil when it can: whole seconds (so boundaries
    /// fall between audio blocks and video frames), at least ``minimumSeconds``.
    public static func problem(seconds: Double) -> String? {
        guard seconds.isFinite, seconds >= Double(minimumSeconds) else { return "a segment lasts at least \(minimumSeconds)s" }
        guard seconds == seconds.rounded(), seconds <= Double(maximumSeconds) else {
            return "a segment is a whole number of seconds, at most \(maximumSeconds)s"
        }
        return nil
    }
}

/// Decides where a participant's frames, remuxed as received (no re-encoding), are cut into
/// segments — sans-IO: frames go in with their file time, steps come out.
///
/// - With video, a segment ends at the first video keyframe at or after the boundary (a new file
///   must start with one); audio from that keyframe's time on goes to the new file. Audio at or
///   after the boundary is held until the keyframe says where the cut is, or until a video frame
///   that is not a keyframe shows that the cut comes later (such audio stays in the current file).
///   When no video frame releases held audio for ``maxHoldMillis`` the video has stopped: the cut
///   is made at the first held audio frame, as for an audio-only participant.
/// - Without video, the cut is at the first frame at or after the boundary.
///
/// Every frame comes out exactly once. After a cut, frames timed before it belong to the previous
/// file: the writer (``SegmentedWebMWriter``) routes them there by time. A sender that sends no
/// keyframe keeps its file open past the boundary until it does.
public struct SegmentCutter<Item> {
    /// What to do next: start the segment `index` at file time `atMillis`, or write a frame.
    public enum Step {
        case cut(index: Int, atMillis: Int64)
        case write(Item)
    }

    /// How long audio past a boundary waits for the video to say where the cut is.
    public static var maxHoldMillis: Int64 { 2_000 }

    public let clock: SegmentClock
    /// The segment frames are being written to.
    public private(set) var index: Int
    private let hasVideo: Bool
    private var held: [(item: Item, time: Int64)] = []
    private var newestMillis = Int64.min

    /// Starts in the segment of file time 0. `hasVideo`: the participant sends video (cuts wait for its keyframes).
    public init(clock: SegmentClock, hasVideo: Bool) {
        self.clock = clock
        self.hasVideo = hasVideo
        index = clock.index(atMillis: 0)
    }

    /// Frames held now (audio waiting for the cut).
    public var heldCount: Int { held.count }

    /// Frames past the boundary have come, and the cut waits for a video keyframe (a live recording
    /// asks the sender for one).
    public var awaitsKeyframe: Bool { hasVideo && newestMillis >= clock.startMillis(of: index + 1) }

    /// Takes one frame at file time `t` (ms), in arrival order; returns what to do, in order.
    public mutating func add(_ item: Item, atMillis t: Int64, isVideo: Bool, isKeyframe: Bool) -> [Step] {
        newestMillis = max(newestMillis, t)
        let boundary = clock.startMillis(of: index + 1)
        if isVideo {
            if isKeyframe && t >= boundary {
                return [cut(at: t), .write(item)] + release { _ in true }
            }
            // Any later keyframe comes after this frame: audio up to it stays in this segment.
            return [.write(item)] + release { $0 <= t }
        }
        if !hasVideo {
            return t >= boundary ? [cut(at: t), .write(item)] : [.write(item)]
        }
        guard t >= boundary || !held.isEmpty else { return [.write(item)] }
        held.append((item, t))
        guard t - held[0].time >= Self.maxHoldMillis else { return [] }
        return [cut(at: held[0].time)] + release { _ in true }
    }

    /// The frames still held (at the end of the input): they stay in the current segment.
    public mutating func drain() -> [Step] { release { _ in true } }

    private mutating func cut(at t: Int64) -> Step {
        index = max(index + 1, clock.index(atMillis: t))
        return .cut(index: index, atMillis: t)
    }

    private mutating func release(_ due: (Int64) -> Bool) -> [Step] {
        let count = held.prefix { due($0.time) }.count
        let steps = held.prefix(count).map { Step.write($0.item) }
        held.removeFirst(count)
        return steps
    }
}
