import RTP

/// Builds transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01)
/// from the transport-wide sequence number and arrival time of every packet of a transport, sans-IO.
///
/// Feedback covers every sequence number from the first one not reported yet to the newest one
/// received, and goes ``intervalMicros`` after the first packet it reports, or as soon as
/// ``packetThreshold`` packets wait. A
/// late (reordered) packet moves the start back, so it is reported after all, as long as its
/// neighbours' arrivals are still kept (``historyMicros``). Bounded: arrivals older than the history
/// are forgotten, and a jump of more than ``maxGap`` sequence numbers starts afresh.
public struct TransportFeedbackGenerator: Sendable {
    public var intervalMicros: Int64 = 50_000
    public var packetThreshold = 100
    public var historyMicros: Int64 = 500_000
    /// Sequence numbers one feedback packet covers at most (about 1 KB of RTCP at worst).
    public var maxPacketsPerFeedback = 400
    public var maxGap: Int64 = 1_000

    private var unwrapper = SequenceUnwrapper()
    /// Unwrapped sequence number → arrival (µs), for the history.
    private var arrivals: [Int64: Int64] = [:]
    /// The first sequence number the next feedback starts at.
    private var windowStart: Int64?
    private var highest: Int64 = .min
    private var feedbackCount: UInt8 = 0
    private var nextDueMicros: Int64?
    /// Packets received since the last feedback.
    public private(set) var pendingPackets = 0

    public init() {}

    /// Records one packet's transport-wide sequence number (any packet of the transport: audio,
    /// video, RTX, padding probes).
    public mutating func received(sequenceNumber: UInt16, arrivalMicros: Int64) {
        let seq = unwrapper.unwrap(sequenceNumber)
        if let start = windowStart {
            if seq - start > maxGap {
                // A sender restart or a long outage: what lies between is not worth reporting.
                arrivals.removeAll(keepingCapacity: true)
                windowStart = seq
            } else if seq < start {
                // Reported as lost already: report it again, with its neighbours (whose arrivals are kept for that).
                guard start - seq <= Int64(maxPacketsPerFeedback) else { return }
                windowStart = seq
            }
        } else {
            windowStart = seq
        }
        arrivals[seq] = arrivalMicros
        highest = max(highest, seq)
        pendingPackets += 1
        let due = nextDueMicros ?? arrivalMicros + intervalMicros
        nextDueMicros = pendingPackets >= packetThreshold ? min(due, arrivalMicros) : due
    }

    /// When ``due(nowMicros:senderSSRC:mediaSSRC:)`` should next be called, nil while nothing waits.
    public var nextDeadline: Int64? { nextDueMicros }

    /// The feedback packets to send now (none when nothing is due or nothing new arrived).
    public mutating func due(nowMicros: Int64, senderSSRC: UInt32, mediaSSRC: UInt32) -> [TransportFeedback] {
        guard let deadline = nextDueMicros, nowMicros >= deadline, var start = windowStart else { return [] }
        var packets: [TransportFeedback] = []
        while start <= highest {
            guard let (packet, next) = build(from: start, senderSSRC: senderSSRC, mediaSSRC: mediaSSRC) else { break }
            packets.append(packet)
            start = next
        }
        windowStart = highest + 1
        pendingPackets = 0
        nextDueMicros = nil  // until the next packet: then one interval from it
        // Forget arrivals no late packet could still be reported among.
        let oldest = nowMicros - historyMicros
        arrivals = arrivals.filter { $0.value >= oldest }
        return packets
    }

    /// One feedback packet from `start`: up to ``maxPacketsPerFeedback`` sequence numbers, ending
    /// early before a delta that does not fit 16 bits. Returns the sequence number the next starts at.
    private mutating func build(from start: Int64, senderSSRC: UInt32, mediaSSRC: UInt32) -> (TransportFeedback, Int64)? {
        guard let first = (start...highest).first(where: { arrivals[$0] != nil }), let firstArrival = arrivals[first] else { return nil }
        let reference = Self.floorDiv(firstArrival, TransportFeedback.referenceMicros)
        var clock = reference * TransportFeedback.referenceMicros
        var deltas: [Int16?] = []
        var seq = start
        while seq <= highest, deltas.count < maxPacketsPerFeedback {
            if let arrival = arrivals[seq] {
                // Ticks from the previous packet's reported time, so rounding never accumulates.
                let ticks = Self.floorDiv(arrival - clock + TransportFeedback.tickMicros / 2, TransportFeedback.tickMicros)
                guard let delta = Int16(exactly: ticks) else { break }
                deltas.append(delta)
                clock += ticks * TransportFeedback.tickMicros
            } else {
                deltas.append(nil)
            }
            seq += 1
        }
        defer { feedbackCount &+= 1 }
        let feedback = TransportFeedback(senderSSRC: senderSSRC, mediaSSRC: mediaSSRC, baseSequence: UInt16(truncatingIfNeeded: start),
                                         referenceTime: (Int32(truncatingIfNeeded: reference) << 8) >> 8, feedbackCount: feedbackCount,
                                         deltas: deltas)
        return (feedback, seq)
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return a % b < 0 ? q - 1 : q
    }
}
