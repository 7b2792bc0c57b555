import Testing
@testable import RTP

/// Transport-cc feedback on the wire, against vectors built by hand from
/// draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1.
@Suite struct TransportFeedbackTests {
    @Test func threeSmallDeltasAreOneBitVectorWithPadding() throws {
        let feedback = TransportFeedback(senderSSRC: 1, mediaSSRC: 2, baseSequence: 100, referenceTime: 1, feedbackCount: 0,
                                         deltas: [4, 8, 0])
        let bytes = RTCP.serialize([.transportFeedback(feedback)])
        // V=2 P=1 FMT=15, PT 205, 6 words; SSRCs; base 100, 3 statuses, reference 1, count 0;
        // one-bit vector 1 1 1 (0xB800); deltas 4 8 0; 3 bytes of padding, the last one counting them.
        #expect(bytes == [0xAF, 205, 0x00, 0x06, 0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x64, 0x00, 0x03, 0x00, 0x00, 0x01, 0x00,
                          0xB8, 0x00, 0x04, 0x08, 0x00, 0x00, 0x00, 0x03])
        #expect(try RTCP.parseCompound(bytes) == [.transportFeedback(feedback)])
    }

    @Test func aLongRunIsOneRunLengthChunk() throws {
        let feedback = TransportFeedback(senderSSRC: 7, mediaSSRC: 8, baseSequence: 65_530, referenceTime: -2, feedbackCount: 255,
                                         deltas: Array(repeating: 1, count: 20))
        let bytes = RTCP.serialize([.transportFeedback(feedback)])
        // Run-length chunk: T=0, symbol 1, run 20 → 0x2014; reference −2 as 24-bit two's complement.
        #expect(Array(bytes[12..<22]) == [0xFF, 0xFA, 0x00, 0x14, 0xFF, 0xFF, 0xFE, 0xFF, 0x20, 0x14])
        #expect(bytes.count == 20 + 2 + 20 + 2 && bytes[0] & 0x20 != 0 && bytes.last == 2)
        #expect(try RTCP.parseCompound(bytes) == [.transportFeedback(feedback)])
    }

    @Test func lossAndANegativeDeltaAreATwoBitVector() throws {
        let feedback = TransportFeedback(senderSSRC: 1, mediaSSRC: 2, baseSequence: 0, referenceTime: 0, feedbackCount: 3,
                                         deltas: [10, nil, -4])
        let bytes = RTCP.serialize([.transportFeedback(feedback)])
        // Two-bit vector: 1, 0, 2 then padding symbols → 0xD200; deltas 0x0A and 0xFFFC.
        #expect(Array(bytes[20..<25]) == [0xD2, 0x00, 0x0A, 0xFF, 0xFC])
        let parsed = try RTCP.parseCompound(bytes)
        #expect(parsed == [.transportFeedback(feedback)])
        guard case .transportFeedback(let back) = parsed[0] else { return }
        #expect(back.arrivalMicros == [2_500, nil, 1_500])
    }

    @Test func manyMixedStatusesRoundTrip() throws {
        var deltas: [Int16?] = []
        for i in 0..<300 { deltas.append(i % 17 == 3 ? nil : i % 29 == 5 ? Int16(-i) : i % 41 == 0 ? 1_000 : Int16(i % 200)) }
        deltas += Array(repeating: nil, count: 40)
        deltas.append(0)
        let feedback = TransportFeedback(senderSSRC: 9, mediaSSRC: 10, baseSequence: 65_000, referenceTime: 0x7F_FFFF, feedbackCount: 9,
                                         deltas: deltas)
        let bytes = RTCP.serialize([.receiverReport(ReceiverReport(ssrc: 9, reports: [])), .transportFeedback(feedback)])
        #expect(try RTCP.parseCompound(bytes) == [.receiverReport(ReceiverReport(ssrc: 9, reports: [])), .transportFeedback(feedback)])
    }

    @Test func truncatedAndReservedFeedbackIsRefused() throws {
        let good = RTCP.serialize([.transportFeedback(TransportFeedback(senderSSRC: 1, mediaSSRC: 2, baseSequence: 5, referenceTime: 0,
                                                                         feedbackCount: 0, deltas: [1, 2, 3, 4, 5]))])
        // The status count says 50 packets, but the chunks cover 14.
        var tooMany = good
        tooMany[15] = 50
        #expect(throws: RTPError.self) { try RTCP.parseCompound(tooMany) }
        // A run of the reserved status 3.
        var reserved = good
        reserved[20] = 0x60
        reserved[21] = 0x05
        #expect(throws: RTPError.self) { try RTCP.parseCompound(reserved) }
        // Deltas cut off: the packet claims fewer words (no padding left to strip).
        var cut = Array(good[0..<24])
        cut[0] &= ~0x20
        cut[3] = 5
        #expect(throws: RTPError.self) { try RTCP.parseCompound(cut) }
    }
}
