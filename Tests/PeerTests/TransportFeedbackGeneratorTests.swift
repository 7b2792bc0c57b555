import DTLS
import ICE
import LoopbackPeer
import RTP
import Testing
@testable import Peer

/// The transport-cc feedback a receiver builds, the REMB estimate for senders without it, and a
/// connected peer that sends the one or the other as the offer asks.
@Suite struct TransportFeedbackGeneratorTests {
    @Test func feedbackComesOneIntervalAfterTheFirstPacketAndCoversTheWrap() {
        var generator = TransportFeedbackGenerator()
        let t0: Int64 = 10_000_000
        // 65534, 65535, (0 lost), 1 — 2 ms apart.
        generator.received(sequenceNumber: 65_534, arrivalMicros: t0)
        generator.received(sequenceNumber: 65_535, arrivalMicros: t0 + 2_000)
        generator.received(sequenceNumber: 1, arrivalMicros: t0 + 6_000)
        #expect(generator.nextDeadline == t0 + 50_000)
        #expect(generator.due(nowMicros: t0 + 49_000, senderSSRC: 1, mediaSSRC: 2).isEmpty)
        let feedback = generator.due(nowMicros: t0 + 50_000, senderSSRC: 1, mediaSSRC: 2)
        #expect(feedback.count == 1)
        let first = feedback[0]
        #expect(first.baseSequence == 65_534 && first.deltas.count == 4 && first.deltas[2] == nil)
        // Times come back to within a tick of the arrivals, on the feedback's 64 ms reference grid.
        let arrivals = first.arrivalMicros
        let base = Int64(first.referenceTime) * 64_000
        #expect(base <= t0 && t0 - base < 64_000)
        for (got, want) in zip(arrivals, [t0, t0 + 2_000, nil, t0 + 6_000]) {
            if let want { #expect(abs(got! - want) <= 125) } else { #expect(got == nil) }
        }
        // Nothing new: nothing due; the next packet starts after the last reported one.
        #expect(generator.nextDeadline == nil)
        generator.received(sequenceNumber: 2, arrivalMicros: t0 + 60_000)
        let second = generator.due(nowMicros: t0 + 110_000, senderSSRC: 1, mediaSSRC: 2)
        #expect(second.map(\.baseSequence) == [2] && second[0].feedbackCount == first.feedbackCount &+ 1)
    }

    @Test func aBurstReachingTheThresholdIsReportedAtOnce() {
        var generator = TransportFeedbackGenerator()
        for seq in 0..<UInt16(generator.packetThreshold) { generator.received(sequenceNumber: seq, arrivalMicros: 1_000_000 + Int64(seq) * 10) }
        #expect(generator.nextDeadline == 1_000_000 + Int64(generator.packetThreshold - 1) * 10)
        let feedback = generator.due(nowMicros: 1_001_000, senderSSRC: 1, mediaSSRC: 2)
        #expect(feedback.count == 1 && feedback[0].deltas.count == generator.packetThreshold && !feedback[0].deltas.contains(nil))
    }

    @Test func aLatePacketIsReportedAgainWithItsNeighbours() {
        var generator = TransportFeedbackGenerator()
        generator.received(sequenceNumber: 10, arrivalMicros: 1_000_000)
        generator.received(sequenceNumber: 12, arrivalMicros: 1_001_000)
        let first = generator.due(nowMicros: 1_050_000, senderSSRC: 1, mediaSSRC: 2)
        #expect(first[0].deltas.map { $0 != nil } == [true, false, true])
        generator.received(sequenceNumber: 11, arrivalMicros: 1_060_000)
        generator.received(sequenceNumber: 13, arrivalMicros: 1_061_000)
        let second = generator.due(nowMicros: 1_110_000, senderSSRC: 1, mediaSSRC: 2)
        #expect(second.count == 1 && second[0].baseSequence == 11 && second[0].deltas.count == 3 && !second[0].deltas.contains(nil))
    }

    @Test func aPauseLongerThanADeltaSplitsTheFeedback() {
        var generator = TransportFeedbackGenerator()
        generator.received(sequenceNumber: 1, arrivalMicros: 1_000_000)
        // 9 s later: more than 32767 ticks of 250 µs.
        generator.received(sequenceNumber: 2, arrivalMicros: 10_000_000)
        let feedback = generator.due(nowMicros: 10_050_000, senderSSRC: 1, mediaSSRC: 2)
        #expect(feedback.map(\.baseSequence) == [1, 2] && feedback.map(\.deltas.count) == [1, 1])
        #expect(feedback[0].feedbackCount &+ 1 == feedback[1].feedbackCount)
        #expect(abs(feedback[1].arrivalMicros[0]! - 10_000_000) <= 125)
    }

    @Test func aHugeJumpStartsAfreshInsteadOfReportingThousandsLost() {
        var generator = TransportFeedbackGenerator()
        generator.received(sequenceNumber: 1, arrivalMicros: 1_000_000)
        generator.received(sequenceNumber: 30_000, arrivalMicros: 1_001_000)
        let feedback = generator.due(nowMicros: 1_050_000, senderSSRC: 1, mediaSSRC: 2)
        #expect(feedback.map(\.baseSequence) == [30_000] && feedback[0].deltas.count == 1)
    }

    @Test func rembFollowsWhatArrivesAndWhatIsLost() {
        var remb = RembEstimator(ceiling: 2_500_000)
        // 500 kbit/s arriving, nothing lost: at most 1.5 × that + headroom.
        remb.received(bytes: 62_500, nowMicros: 0)
        #expect(remb.update(nowMicros: 1_000_000, fractionLost: 0) == 900_000)
        // Still 500 kbit/s: no higher than what it has shown it can carry.
        remb.received(bytes: 62_500, nowMicros: 1_000_000)
        #expect(remb.update(nowMicros: 2_000_000, fractionLost: 0) == 900_000)
        // 1 Mbit/s arriving: grows 8% a step.
        remb.received(bytes: 125_000, nowMicros: 2_000_000)
        #expect(remb.update(nowMicros: 3_000_000, fractionLost: 0) == 972_000)
        // 20% lost: what arrived × 0.9.
        remb.received(bytes: 125_000, nowMicros: 3_000_000)
        #expect(remb.update(nowMicros: 4_000_000, fractionLost: 0.2) == 900_000)
        // 5% lost: holds.
        remb.received(bytes: 125_000, nowMicros: 4_000_000)
        #expect(remb.update(nowMicros: 5_000_000, fractionLost: 0.05) == 900_000)
        // Never above the ceiling.
        for second in 5..<40 {
            remb.received(bytes: 1_000_000, nowMicros: Int64(second) * 1_000_000)
            remb.update(nowMicros: Int64(second + 1) * 1_000_000, fractionLost: 0)
        }
        #expect(remb.estimate == 2_500_000)
    }

    /// The loopback publisher's offer with the transport-wide sequence number extension and, when
    /// `feedback`, `transport-cc` on the video payload type.
    private func connect(transportCC: Bool) throws -> Link {
        let publisher = try LoopbackPublisher()
        var offer = publisher.offer()
        let extmap = "a=extmap:5 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
        offer = offer.replacingOccurrences(of: "a=rtpmap:96 VP8/90000\r\n",
                                           with: "a=rtpmap:96 VP8/90000\r\n" + (transportCC ? "a=rtcp-fb:96 transport-cc\r\n" : "") + extmap)
        let recorder = try PeerConnection(offer: offer, hostAddresses: [STUNAddress(ip: "10.0.0.1", port: 6000)],
                                          certificate: try DTLSCertificate.generate())
        try publisher.accept(answer: recorder.answer)
        var link = Link(publisher: publisher, recorder: recorder)
        link.run(2_000_000)
        return link
    }

    /// 2 s of video at 30 packets a second, each with a transport-wide sequence number.
    private func sendNumbered(_ link: inout Link) {
        for seq in UInt16(0)..<60 {
            let payload: [UInt8] = [0x10, 0x50, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0x68, 0x01] + [UInt8](repeating: 7, count: 90)
            let packet = RTPPacket(payloadType: 96, sequenceNumber: seq, timestamp: UInt32(seq) * 3000, ssrc: 2222, marker: true,
                                   extensions: [RTPHeaderExtension(id: 5, data: [UInt8(truncatingIfNeeded: (seq + 500) >> 8), UInt8(truncatingIfNeeded: seq + 500)])],
                                   payload: payload)
            link.deliver(fromPublisher: link.publisher.send(rtp: packet.serialized()).map { [$0] } ?? [])
            link.run(33_000)
        }
    }

    @Test func aSenderOfferingTransportCCGetsFeedbackForEveryPacketAndNoREMB() throws {
        var link = try connect(transportCC: true)
        try #require(link.recorder.isConnected)
        #expect(link.recorder.answer.contains("transport-cc") && link.recorder.answer.contains("transport-wide-cc"))
        sendNumbered(&link)
        link.run(200_000)
        let feedback = link.publisher.feedback.compactMap { if case .transportFeedback(let f) = $0 { f } else { nil } }
        // Every 50 ms or so, covering 500..<560 once each, in order, all received.
        #expect(feedback.count >= 30 && feedback.count <= 45, "\(feedback.count) feedback packets")
        var covered: [UInt16] = []
        for f in feedback { covered += f.deltas.indices.map { f.baseSequence &+ UInt16($0) } }
        #expect(covered == Array(500..<560), "\(covered)")
        #expect(feedback.allSatisfy { !$0.deltas.contains(nil) })
        #expect(zip(feedback, feedback.dropFirst()).allSatisfy { $0.feedbackCount &+ 1 == $1.feedbackCount })
        #expect(!link.publisher.feedback.contains { if case .remb = $0 { true } else { false } })
        #expect(link.recorder.stats.transportFeedbackSent == feedback.count)
    }

    @Test func aSenderOfferingOnlyREMBGetsAnEstimateAndNoTransportFeedback() throws {
        var link = try connect(transportCC: false)
        try #require(link.recorder.isConnected)
        #expect(!link.recorder.answer.contains("transport-cc"))
        sendNumbered(&link)
        #expect(!link.publisher.feedback.contains { if case .transportFeedback = $0 { true } else { false } })
        let rembs = link.publisher.feedback.compactMap { if case .remb(let r) = $0 { r.bitrate } else { nil } }
        // About 30 kbit/s arrives: the estimate is 1.5 × that + 150 kbit/s, far below the 2.5 Mbit/s ceiling.
        #expect(!rembs.isEmpty && rembs.allSatisfy { $0 > 150_000 && $0 < 400_000 }, "\(rembs)")
    }
}
