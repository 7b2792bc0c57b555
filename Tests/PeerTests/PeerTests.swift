import RTP
import Testing
@testable import Peer

@Suite struct DemultiplexTests {
    @Test func classifiesByFirstByte() {
        #expect(DatagramKind([0x00, 0x01, 0, 0]) == .stun)
        #expect(DatagramKind([22, 0xFE, 0xFD]) == .dtls)
        let rtp = RTPPacket(payloadType: 111, sequenceNumber: 1, timestamp: 2, ssrc: 3, payload: [1]).serialized()
        #expect(DatagramKind(rtp) == .rtp)
        let rr = RTCP.serialize([.receiverReport(ReceiverReport(ssrc: 1))])
        #expect(DatagramKind(rr) == .rtcp)
        #expect(DatagramKind([]) == .unknown && DatagramKind([200]) == .unknown && DatagramKind([64, 0]) == .unknown)
    }
}

@Suite struct ReceptionStatisticsTests {
    @Test func lossFractionCumulativeAndExtendedHighest() throws {
        var stats = ReceptionStatistics(ssrc: 7, clockRate: 90_000)
        // 100 packets from 65500 across the wrap, 10 of them lost.
        for i in 0..<100 where i % 10 != 3 {
            stats.received(sequenceNumber: UInt16(truncatingIfNeeded: 65_500 + i), timestamp: UInt32(i * 3000), arrivalMicros: Int64(i) * 33_333)
        }
        let first = stats.makeReport(nowMicros: 4_000_000)
        let report = try #require(first)
        #expect(report.cumulativeLost == 10)
        #expect(report.fractionLost == UInt8(10 * 256 / 100))
        #expect(report.highestSequence == UInt32(65_500 + 99))  // one cycle: 0x1_0000 + 63
        // A quiet interval reports no new loss.
        let quiet = stats.makeReport(nowMicros: 5_000_000)
        #expect(quiet?.fractionLost == 0)
    }

    @Test func jitterFollowsRFC3550() throws {
        var stats = ReceptionStatistics(ssrc: 1, clockRate: 90_000)
        // Perfect pacing: jitter stays 0; then alternating ±5 ms arrival noise raises it to about 450 units (5 ms at 90 kHz).
        for i in 0..<50 { stats.received(sequenceNumber: UInt16(i), timestamp: UInt32(i * 3000), arrivalMicros: Int64(i) * 33_333 + (i == 0 ? 0 : Int64(i) / 3)) }
        #expect(stats.jitter < 5)
        for i in 50..<1000 {
            let noise: Int64 = i % 2 == 0 ? 5_000 : -5_000
            stats.received(sequenceNumber: UInt16(i), timestamp: UInt32(i * 3000), arrivalMicros: Int64(i) * 100_000 / 3 + noise)
        }
        #expect(abs(stats.jitter - 900) < 60, "jitter \(stats.jitter)")  // |Δtransit| = 10 ms = 900 units
    }

    @Test func lastSenderReportAndDelay() throws {
        var stats = ReceptionStatistics(ssrc: 1, clockRate: 48_000)
        stats.received(sequenceNumber: 1, timestamp: 0, arrivalMicros: 0)
        stats.receivedSenderReport(ntpTimestamp: 0x1234_5678_9ABC_DEF0, arrivalMicros: 1_000_000)
        let made = stats.makeReport(nowMicros: 1_500_000)
        let report = try #require(made)
        #expect(report.lastSenderReport == 0x5678_9ABC)
        #expect(report.delaySinceLastSenderReport == 32_768)  // 0.5 s in 1/65536 s
    }
}

@Suite struct NackGeneratorTests {
    @Test func requestsAfterReorderAllowanceRetriesAtRTTAndStopsOnArrival() {
        var nack = NackGenerator()
        nack.roundTripMicros = 50_000
        nack.received(sequenceNumber: 65_534, nowMicros: 0)
        nack.received(sequenceNumber: 1, nowMicros: 1_000)  // 65535 and 0 missing, across the wrap
        let early = nack.due(nowMicros: 5_000).request
        #expect(early.isEmpty)  // reordering allowance
        let first = nack.due(nowMicros: 11_000).request
        #expect(first == [65_535, 0])
        let beforeRTT = nack.due(nowMicros: 40_000).request
        #expect(beforeRTT.isEmpty)
        let repaired = nack.received(sequenceNumber: 65_535, nowMicros: 45_000)
        #expect(repaired)
        let retry = nack.due(nowMicros: 61_000).request
        #expect(retry == [0])
        #expect(nack.recovered == 1 && nack.requested == 3)
        #expect(nack.nextDeadline() == 111_000)
    }

    @Test func givesUpByAgeAndRetriesAndStaysBounded() {
        var nack = NackGenerator()
        nack.maxRetries = 3
        nack.roundTripMicros = 20_000
        nack.received(sequenceNumber: 10, nowMicros: 0)
        nack.received(sequenceNumber: 12, nowMicros: 0)
        var sent = 0
        var t: Int64 = 0
        var dropped: [UInt16] = []
        while t < 2_000_000 {
            let (request, givenUp) = nack.due(nowMicros: t)
            sent += request.count
            dropped += givenUp
            t += 10_000
        }
        #expect(sent == 3 && dropped == [11] && nack.missingCount == 0)
        // A huge jump never tracks more than maxMissing holes.
        nack.received(sequenceNumber: 20_000, nowMicros: t)
        #expect(nack.missingCount == nack.maxMissing)
    }
}
