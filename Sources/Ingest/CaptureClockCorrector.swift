import Capture
import RTP

/// Keeps one input's capture clock continuous, sans-IO: a record stamped years later (or earlier),
/// or a capture host's clock step, would otherwise stretch the room over the whole span.
///
/// Packets come in file order. A step of the capture time from the previous RTP packet of more
/// than ``maxSilentStepMicros`` forward, or ``maxBackwardStepMicros`` back, is checked against
/// that packet's own stream: when its RTP timestamp advanced as much (at 48 or 90 kHz, within
/// 2 s or a tenth of the step) it is a real pause — nobody sent — and is kept; otherwise the
/// capture clock jumped, and from this packet on the input's times are shifted so that it follows
/// the previous one. A new stream after a forward step is taken as it comes. Packets that are not
/// RTP (RTCP) are held within those steps of the last RTP packet's time and do not move the clock.
/// Both passes over an input run the same corrector over the same packets, so they agree.
package struct CaptureClockCorrector: Sendable {
    package static let maxSilentStepMicros: Int64 = 5_000_000
    package static let maxBackwardStepMicros: Int64 = 2_000_000
    /// Streams remembered at most (a hostile input may hold any number of SSRCs).
    static let maxStreams = 4096

    private var correction: Int64 = 0
    private var last: Int64?
    private var streams: [UInt32: (timestamp: UInt32, arrival: Int64)] = [:]
    package private(set) var jumps = 0
    /// The first jump: the corrected time it happened at and the capture clock's step (µs).
    package private(set) var firstJump: (atMicros: Int64, stepMicros: Int64)?

    package init() {}

    /// The corrected arrival of a captured datagram.
    package mutating func correct(_ packet: CapturedPacket) -> Int64 {
        correct(packet.arrivalMicros, rtp: isRTCP(packet.data) ? nil : RTPHeaderPeek(packet.data))
    }

    /// The corrected arrival of a packet captured at `raw`; `rtp` is its header when it is RTP.
    package mutating func correct(_ raw: Int64, rtp: RTPHeaderPeek?) -> Int64 {
        var corrected = raw &+ correction
        guard let previous = last else {
            if rtp != nil { last = corrected }
            remember(rtp, corrected)
            return corrected
        }
        guard let rtp else {
            return min(max(corrected, previous &- Self.maxBackwardStepMicros), previous &+ Self.maxSilentStepMicros)
        }
        let step = corrected &- previous
        if step > Self.maxSilentStepMicros || step < -Self.maxBackwardStepMicros, !explained(step, corrected, rtp) {
            jumps += 1
            if firstJump == nil { firstJump = (previous, step) }
            correction = correction &- step
            corrected = previous
        }
        last = corrected
        remember(rtp, corrected)
        return corrected
    }

    /// Whether the stream's own RTP advance accounts for a capture-time step to `corrected`.
    private func explained(_ step: Int64, _ corrected: Int64, _ rtp: RTPHeaderPeek) -> Bool {
        guard let before = streams[rtp.ssrc] else { return step > 0 }
        let advance = Int64(Int32(bitPattern: rtp.timestamp &- before.timestamp))
        let tolerance = max(2_000_000, step.magnitude / 10)
        return [48_000, 90_000].contains { rate in
            (corrected &- (before.arrival &+ microsOfTicks(advance, clockRate: rate))).magnitude <= tolerance
        }
    }

    private mutating func remember(_ rtp: RTPHeaderPeek?, _ arrival: Int64) {
        guard let rtp, streams[rtp.ssrc] != nil || streams.count < Self.maxStreams else { return }
        streams[rtp.ssrc] = (rtp.timestamp, arrival)
    }

    /// A warning naming `path` and the first jump, or nil when the clock never jumped.
    package func warning(path: String, originMicros: Int64) -> String? {
        guard let jump = firstJump else { return nil }
        let seconds = Double(jump.stepMicros) / 1_000_000
        return "\(path): capture clock jumped " + (seconds >= 0 ? "+" : "") + String(format: "%.3f s", seconds)
            + String(format: " at %.3f s", Double(jump.atMicros &- originMicros) / 1_000_000)
            + " with no matching RTP advance; times after it follow on (\(jumps) such jump" + (jumps == 1 ? ")" : "s)")
    }
}
