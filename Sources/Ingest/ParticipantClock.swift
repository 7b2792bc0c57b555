import Media

/// Places one participant's frames on a time line whose origin is a chosen arrival time (the
/// participant's first media for per-participant files, the room's first media for the composite).
///
/// Each stream is anchored at its first frame: by its arrival offset from the origin, read from
/// the stream's least-delayed packet (``StreamInfo/arrivalMapping``) so the first packet's jitter
/// does not shift it, or, when that stream and the participant's reference stream (the first to
/// deliver a frame) both carry RTCP Sender Reports, by the senders' NTP clocks relative to the
/// reference (lip sync as sent). Later frames follow their RTP timestamps, so arrival jitter never
/// reaches the output.
public struct ParticipantClock: Sendable {
    public let originMicros: Int64
    /// How far Sender Reports may move a stream from its arrival-based place (lip sync corrections
    /// are tens to hundreds of milliseconds).
    public static let maxReportCorrectionMicros: Int64 = 2_000_000
    private var reports: [StreamKey: ClockMapping] = [:]
    private var arrivals: [StreamKey: ClockMapping] = [:]
    private var anchors: [StreamKey: Anchor] = [:]
    private var reference: (wallMicros: Int64?, offsetMicros: Int64)?

    private struct Anchor: Sendable {
        var firstTimestamp: Int64
        var offsetMicros: Int64
        var clockRate: Int64
    }

    /// `streams`: the participant's streams (their Sender Reports, if any, are used).
    public init(originMicros: Int64, streams: [StreamInfo]) {
        self.originMicros = originMicros
        for stream in streams { add(stream) }
    }

    /// Takes a stream's Sender Report and arrival mapping into account (when it has not placed a frame of it yet).
    public mutating func add(_ stream: StreamInfo) {
        if let sr = stream.senderReport { reports[stream.key] = sr }
        if let mapping = stream.arrivalMapping { arrivals[stream.key] = mapping }
    }

    /// Microseconds after the origin at which `frame` of `stream` is presented (never negative).
    public mutating func presentationMicros(of frame: EncodedFrame, stream: StreamKey) -> Int64 {
        let anchor = anchors[stream] ?? makeAnchor(frame, stream)
        return anchor.offsetMicros &+ microsOfTicks(frame.rtpTimestamp &- anchor.firstTimestamp, clockRate: anchor.clockRate)
    }

    private mutating func makeAnchor(_ frame: EncodedFrame, _ stream: StreamKey) -> Anchor {
        let clockRate = Int64(frame.codec.clockRate)
        func wallClock(_ mapping: ClockMapping) -> Int64 {
            mapping.wallMicros + Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: frame.rtpTimestamp) &- mapping.rtpTimestamp)) * 1_000_000 / clockRate
        }
        let wall = reports[stream].map(wallClock)
        var offset = (arrivals[stream].map(wallClock) ?? frame.arrivalMicros) - originMicros
        if let reference {
            // Sender Reports set lip sync; one that would move the stream far from where it arrived
            // (a sender clock jump, a hostile report) is not believed: arrival places it then.
            if let wall, let referenceWall = reference.wallMicros,
               abs(reference.offsetMicros + (wall - referenceWall) - offset) <= Self.maxReportCorrectionMicros {
                offset = reference.offsetMicros + (wall - referenceWall)
            }
        } else {
            reference = (wall, offset)
        }
        let anchor = Anchor(firstTimestamp: frame.rtpTimestamp, offsetMicros: max(0, offset), clockRate: clockRate)
        anchors[stream] = anchor
        return anchor
    }
}
