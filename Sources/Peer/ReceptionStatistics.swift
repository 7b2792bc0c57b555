import RTP

/// Reception statistics of one incoming SSRC as RFC 3550 §6.4.1 and Appendix A.3/A.8 define
/// them, and the report block a receiver report carries. Sans-IO: the caller passes arrival
/// times (µs) and the RTP clock rate.
public struct ReceptionStatistics: Sendable {
    public let ssrc: UInt32
    public let clockRate: Int
    private var unwrapper = SequenceUnwrapper()
    private var baseSequence: Int64?
    private var highestSequence: Int64 = 0
    /// Packets received (duplicates included, as RFC 3550 counts).
    public private(set) var received: Int64 = 0
    private var expectedAtLastReport: Int64 = 0
    private var receivedAtLastReport: Int64 = 0
    private var transit: Double?
    /// Interarrival jitter estimate in timestamp units (RFC 3550 A.8).
    public private(set) var jitter: Double = 0
    private var lastSenderReport: (middle: UInt32, arrivalMicros: Int64)?

    public init(ssrc: UInt32, clockRate: Int) {
        self.ssrc = ssrc
        self.clockRate = clockRate
    }

    /// Records one RTP packet.
    public mutating func received(sequenceNumber: UInt16, timestamp: UInt32, arrivalMicros: Int64) {
        let seq = unwrapper.unwrap(sequenceNumber)
        if baseSequence == nil {
            baseSequence = seq
            highestSequence = seq
        }
        highestSequence = max(highestSequence, seq)
        received += 1
        // Transit time in timestamp units; jitter follows its absolute changes with gain 1/16.
        let arrivalUnits = Double(arrivalMicros) * Double(clockRate) / 1_000_000
        let current = arrivalUnits - Double(timestamp)
        if let previous = transit {
            var d = abs(current - previous)
            // A timestamp wrap between two packets shows as a jump of 2^32 units: take the short way.
            if d > 2_147_483_648 { d = abs(d - 4_294_967_296) }
            jitter += (d - jitter) / 16
        }
        transit = current
    }

    /// Records an RTCP Sender Report of this SSRC (for LSR/DLSR).
    public mutating func receivedSenderReport(ntpTimestamp: UInt64, arrivalMicros: Int64) {
        lastSenderReport = (UInt32(truncatingIfNeeded: ntpTimestamp >> 16), arrivalMicros)
    }

    /// Packets expected so far (highest − base + 1).
    public var expected: Int64 { baseSequence.map { highestSequence - $0 + 1 } ?? 0 }

    /// Cumulative packets lost (expected − received; negative with duplicates, as RFC 3550 allows).
    public var cumulativeLost: Int64 { expected - received }

    /// The report block for a receiver report sent at `nowMicros`; resets the interval counters.
    public mutating func makeReport(nowMicros: Int64) -> ReceptionReport? {
        guard let base = baseSequence else { return nil }
        let expectedInterval = expected - expectedAtLastReport
        let receivedInterval = received - receivedAtLastReport
        expectedAtLastReport = expected
        receivedAtLastReport = received
        let lostInterval = expectedInterval - receivedInterval
        let fraction = expectedInterval <= 0 || lostInterval <= 0 ? 0 : UInt8(min(255, (lostInterval << 8) / expectedInterval))
        let cumulative = Int32(clamping: max(-0x80_0000, min(0x7F_FFFF, cumulativeLost)))
        let extended = UInt32(truncatingIfNeeded: highestSequence - base + Int64(UInt16(truncatingIfNeeded: base)))
        var lsr: UInt32 = 0
        var dlsr: UInt32 = 0
        if let sr = lastSenderReport {
            lsr = sr.middle
            dlsr = UInt32(clamping: max(0, (nowMicros - sr.arrivalMicros) * 65_536 / 1_000_000))
        }
        return ReceptionReport(ssrc: ssrc, fractionLost: fraction, cumulativeLost: cumulative, highestSequence: extended,
                               jitter: UInt32(jitter.rounded()), lastSenderReport: lsr, delaySinceLastSenderReport: dlsr)
    }
}
