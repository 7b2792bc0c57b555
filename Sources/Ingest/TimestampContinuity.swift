import Media

/// A jump of a stream's RTP timestamps that its arrival does not account for.
public struct TimestampJump: Sendable, Equatable {
    /// The RTP timestamp step at the jump (ticks of the stream's clock; negative: backwards).
    public var ticks: Int64
    public var clockRate: Int
    /// Arrival of the first frame after the jump (capture clock).
    public var arrivalMicros: Int64

    /// "+1073741824 ticks (+22369.621 s at 48000 Hz)".
    public var size: String {
        let seconds = Double(ticks) / Double(clockRate)
        return (ticks >= 0 ? "+" : "") + "\(ticks) ticks (" + (seconds >= 0 ? "+" : "") + String(format: "%.3f s at %d Hz)", seconds, clockRate)
    }
}

/// RTP ticks as µs, saturating instead of trapping (a hostile stream can unwrap to any 64-bit value).
package func microsOfTicks(_ ticks: Int64, clockRate: Int64) -> Int64 {
    let (whole, overflow) = (ticks / clockRate).multipliedReportingOverflow(by: 1_000_000)
    if overflow { return ticks < 0 ? .min / 2 : .max / 2 }
    return whole + ticks % clockRate * 1_000_000 / clockRate
}

/// Keeps one stream's RTP timeline continuous across timestamp jumps, sans-IO.
///
/// Frames come in sequence order. Each is compared with the stream's least-delayed frame so far
/// (the smallest arrival minus RTP time): a frame that arrives more than ``earlyToleranceMicros``
/// before its RTP time says, more than ``lateToleranceMicros`` after it (no network holds a
/// real-time packet that long), or whose timestamp steps back more than 0.1 s, is a discontinuity:
/// a sender restart, a bogus timestamp, a jump of +2^30. Such a frame is placed at its arrival on
/// the stream's timeline (and at least one ordinary frame step after the previous frame), and the
/// frames after it follow their RTP timestamps from there. A pause whose RTP advance matches its
/// arrival (a muted participant, DTX) is no discontinuity and is kept.
package struct TimestampContinuity: Sendable {
    /// How much earlier than its RTP time says a frame may arrive (relative to the least-delayed one).
    package static let earlyToleranceMicros: Int64 = 2_000_000
    /// How much later than its RTP time says a frame may arrive before it is taken as a jump back.
    package static let lateToleranceMicros: Int64 = 10_000_000

    private let clockRate: Int64
    /// Output timestamp = input timestamp + `offset`.
    private var offset: Int64 = 0
    private var last: (input: Int64, output: Int64)?
    /// The least-delayed frame since the last jump: output timestamp and arrival.
    private var reference: (output: Int64, arrival: Int64) = (0, 0)
    /// The latest ordinary forward step (ticks): the least a jumped frame is placed after the previous one.
    private var step: Int64
    package private(set) var jumps = 0
    package private(set) var firstJump: TimestampJump?

    package init(clockRate: Int) {
        self.clockRate = Int64(clockRate)
        step = Int64(clockRate) / 50
    }

    /// Returns `frame` with its timestamp on the continuous timeline, and the jump it made, if any.
    package mutating func place(_ frame: EncodedFrame) -> (frame: EncodedFrame, jump: TimestampJump?) {
        var frame = frame
        let input = frame.rtpTimestamp, arrival = frame.arrivalMicros
        guard let last else {
            self.last = (input, input)
            reference = (input, arrival)
            return (frame, nil)
        }
        var output = input &+ offset
        let stepTicks = output &- last.output
        var jump: TimestampJump?
        if stepTicks < -clockRate / 10 || !Self.fits(lateness(output, arrival)) {
            jump = TimestampJump(ticks: input &- last.input, clockRate: Int(clockRate), arrivalMicros: arrival)
            let atArrival = reference.output &+ (arrival &- reference.arrival) / 1000 &* clockRate / 1000
            output = max(atArrival, last.output &+ step)
            offset = output &- input
            jumps += 1
            if firstJump == nil { firstJump = jump }
        } else if stepTicks > 0, stepTicks <= clockRate / 2 {
            step = stepTicks
        }
        if lateness(output, arrival) < 0 { reference = (output, arrival) }
        self.last = (input, output)
        frame.rtpTimestamp = output
        return (frame, jump)
    }

    /// How much later than the reference the frame arrives than its RTP time says (µs).
    private func lateness(_ output: Int64, _ arrival: Int64) -> Int64 {
        (arrival &- reference.arrival) &- microsOfTicks(output &- reference.output, clockRate: clockRate)
    }

    private static func fits(_ lateness: Int64) -> Bool { lateness >= -earlyToleranceMicros && lateness <= lateToleranceMicros }

    /// Whether a packet whose arrival minus media time is `delay` µs can be the least-delayed one of a
    /// stream whose best so far is `best` (a packet after a forward jump would look far less delayed).
    package static func isPlausibleMinimum(delay: Int64, best: Int64) -> Bool { delay >= best &- earlyToleranceMicros }
}

extension StreamInfo {
    /// The warning for `count` timestamp jumps of this stream, the first being `jump`; the room's
    /// time 0 is `originMicros`.
    public func jumpWarning(_ jump: TimestampJump, count: Int, originMicros: Int64) -> String {
        "\(participant) \(hex(key.ssrc)) (\(codec?.rawValue ?? "?")): RTP timestamp jumped \(jump.size)"
            + String(format: " at %.3f s", Double(jump.arrivalMicros &- originMicros) / 1_000_000)
            + ", beyond what its arrival allows: a discontinuity, the stream goes on from its arrival"
            + " (\(count) such jump" + (count == 1 ? ")" : "s)")
    }
}
