import RTP

/// Counters of a depacketizer.
public struct DepacketizerStats: Sendable, Equatable {
    /// Frames returned.
    public var frames = 0
    /// Keyframes among them.
    public var keyframes = 0
    /// Frames discarded because a packet of theirs was lost or malformed.
    public var framesDroppedIncomplete = 0
    /// Complete frames discarded because a loss broke the reference chain and no keyframe came yet.
    public var framesDroppedWaitingForKeyframe = 0
    /// Packets whose payload could not be parsed (or whose codec is not supported); they are dropped.
    public var packetsInvalid = 0

    public init() {}
}

/// Turns in-order RTP packets of one stream into complete encoded frames.
public protocol Depacketizer: Sendable {
    /// Feed packets in sequence order (from `ReorderBuffer`). Returns zero or more complete frames.
    mutating func push(_ packet: OrderedPacket) -> [EncodedFrame]
    /// Packets were lost: the frame in progress is discarded; for video, frames are held back until the next keyframe.
    mutating func lost(firstSequence: Int64, count: Int) -> [EncodedFrame]
    /// End of stream: an unfinished frame is discarded.
    mutating func flush() -> [EncodedFrame]
    var stats: DepacketizerStats { get }
    /// True while waiting for a keyframe (the live path sends PLI).
    var needsKeyframe: Bool { get }
}

extension Depacketizer {
    /// Convenience: feeds one `ReorderBuffer` output.
    public mutating func consume(_ output: ReorderOutput) -> [EncodedFrame] {
        switch output {
        case .packet(let p): return push(p)
        case .gap(let first, let count): return lost(firstSequence: first, count: count)
        }
    }
}

/// The depacketizer for `codec`.
public func makeDepacketizer(for codec: Codec) -> any Depacketizer {
    switch codec {
    case .opus: return OpusDepacketizer()
    case .vp8: return VP8Depacketizer()
    case .vp9: return VP9Depacketizer()
    case .h264: return H264Depacketizer()
    }
}

/// RFC 7587: one RTP packet carries one Opus packet, which is one frame for the decoder.
/// Audio has no reference chain: a loss is left to the decoder's concealment.
public struct OpusDepacketizer: Depacketizer {
    public private(set) var stats = DepacketizerStats()
    public var needsKeyframe: Bool { false }

    public init() {}

    /// Checks the TOC-based framing of RFC 6716 §3.2 enough to reject empty and truncated packets.
    public static func isValidPacket(_ p: ArraySlice<UInt8>) -> Bool {
        guard let toc = p.first else { return false }
        let rest = p.count - 1
        switch toc & 0x03 {
        case 0: return true
        case 1: return rest % 2 == 0
        case 2:
            guard rest >= 1 else { return false }
            let b = p[p.startIndex + 1]
            if b < 252 { return Int(b) <= rest - 1 }
            guard rest >= 2 else { return false }
            return Int(b) + 4 * Int(p[p.startIndex + 2]) <= rest - 2
        default:
            guard rest >= 1 else { return false }
            let m = Int(p[p.startIndex + 1] & 0x3F)
            guard m >= 1 else { return false }
            // Frame duration from the config (RFC 6716 table 2), in units of 0.5 ms; at most 120 ms per packet.
            let config = Int(toc >> 3)
            let halfMs: Int
            if config < 12 { halfMs = [20, 40, 80, 120][config & 3] }
            else if config < 16 { halfMs = [20, 40][config & 1] }
            else { halfMs = [5, 10, 20, 40][config & 3] }
            return m * halfMs <= 240
        }
    }

    public mutating func push(_ packet: OrderedPacket) -> [EncodedFrame] {
        let payload = packet.packet.payload
        guard Self.isValidPacket(payload) else {
            stats.packetsInvalid += 1
            return []
        }
        stats.frames += 1
        stats.keyframes += 1
        return [EncodedFrame(codec: .opus, data: Array(payload), rtpTimestamp: packet.timestamp,
                             arrivalMicros: packet.arrivalMicros, isKeyframe: true)]
    }

    public mutating func lost(firstSequence: Int64, count: Int) -> [EncodedFrame] { [] }
    public mutating func flush() -> [EncodedFrame] { [] }
}

/// Whether the packets handed to a depacketizer follow each other with no hole: a sequence
/// number that does not follow the previous one, unless a reported gap covered it, is a loss.
struct SequenceContinuity: Sendable {
    private var last: Int64?

    /// Records `sequence`; false when packets are missing before it.
    mutating func follows(_ sequence: Int64) -> Bool {
        defer { last = sequence }
        return last.map { sequence == $0 + 1 } ?? true
    }

    /// Records a gap the reorder buffer reported, so the packet after it counts as following.
    mutating func skip(firstSequence: Int64, count: Int) {
        last = max(last ?? .min, firstSequence + Int64(count) - 1)
    }
}
