import RTP

/// Decides which lost packets of one SSRC to ask for again with RTCP NACK (RFC 4585), sans-IO.
///
/// A gap in received sequence numbers makes the missing ones candidates; each is requested
/// once a reordering allowance has passed, then again every round-trip time (at least
/// `minRetryMicros`) until it arrives, it has been asked for `maxRetries` times, or it is older
/// than `maxAgeMicros` (then a keyframe request is the better repair). Bounded: at most
/// `maxMissing` sequence numbers are tracked; older ones are given up.
public struct NackGenerator: Sendable {
    public var maxRetries = 10
    /// A packet missing this long is given up (and the stream asks for a keyframe): a repair any
    /// later would come after the recording's reorder window (500 ms, `IngestOptions`) has passed it
    /// by, and the picture would stay broken until the sender's next keyframe.
    public var maxAgeMicros: Int64 = 450_000
    public var minRetryMicros: Int64 = 20_000
    /// Wait this long after noticing a gap before the first request (packets may be reordered).
    public var reorderAllowanceMicros: Int64 = 10_000
    public var maxMissing = 512
    /// Current round-trip estimate (from RR/SR LSR-DLSR or transport-cc); retries use it.
    public var roundTripMicros: Int64 = 100_000

    private var unwrapper = SequenceUnwrapper()
    private var highest: Int64?
    /// Missing sequence number → (first noticed, last requested, requests so far).
    private var missing: [Int64: (noticed: Int64, lastSent: Int64?, sent: Int)] = [:]
    /// Counters for the recording's statistics.
    public private(set) var requested = 0
    public private(set) var recovered = 0
    public private(set) var givenUp = 0

    public init() {}

    /// Records a received packet; returns true when it repairs a packet that was missing.
    @discardableResult
    public mutating func received(sequenceNumber: UInt16, nowMicros: Int64) -> Bool {
        let seq = unwrapper.unwrap(sequenceNumber)
        guard let top = highest else {
            highest = seq
            return false
        }
        if seq > top {
            if seq - top > Int64(maxMissing) {
                // A jump too large to repair: forget the old holes, track the newest ones.
                givenUp += missing.count
                missing.removeAll()
            }
            for gap in max(top + 1, seq - Int64(maxMissing))..<seq { missing[gap] = (nowMicros, nil, 0) }
            highest = seq
            return false
        }
        if let entry = missing.removeValue(forKey: seq) {
            if entry.sent > 0 { recovered += 1 }
            return true
        }
        return false
    }

    /// The sequence numbers to request now (send them in one Generic NACK), and those given up.
    public mutating func due(nowMicros: Int64) -> (request: [UInt16], givenUp: [UInt16]) {
        var request: [UInt16] = []
        var dropped: [UInt16] = []
        let retry = max(minRetryMicros, roundTripMicros)
        for (seq, entry) in missing.sorted(by: { $0.key < $1.key }) {
            if nowMicros - entry.noticed > maxAgeMicros || entry.sent >= maxRetries {
                missing[seq] = nil
                dropped.append(UInt16(truncatingIfNeeded: seq))
                continue
            }
            let ready = entry.lastSent.map { nowMicros - $0 >= retry } ?? (nowMicros - entry.noticed >= reorderAllowanceMicros)
            guard ready else { continue }
            missing[seq] = (entry.noticed, nowMicros, entry.sent + 1)
            request.append(UInt16(truncatingIfNeeded: seq))
        }
        requested += request.count
        givenUp += dropped.count
        return (request, dropped)
    }

    /// When `due` should next be called, or nil with nothing missing.
    public func nextDeadline() -> Int64? {
        let retry = max(minRetryMicros, roundTripMicros)
        return missing.values.map { $0.lastSent.map { $0 + retry } ?? ($0.noticed + reorderAllowanceMicros) }.min()
    }

    /// Sequence numbers currently missing.
    public var missingCount: Int { missing.count }
}
