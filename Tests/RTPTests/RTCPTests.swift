import Testing
@testable import RTP

@Suite struct RTCPTests {
    func parseError(_ b: [UInt8]) -> RTPError? {
        do { _ = try RTCP.parseCompound(b); return nil } catch { return error }
    }

    @Test func senderReportPlusSDESByteVector() throws {
        let bytes = hex("""
            81 c8 00 0c  11 22 33 44  e9 7f 00 00 80 00 00 00  00 01 e2 40  00 00 00 0a  00 00 04 00
            55 66 77 88  05 ff ff fe  00 01 00 64  00 00 00 20  12 34 56 78  00 00 80 00
            81 ca 00 04  11 22 33 44  01 07 75 73 65 72 40 68 6f 00 00 00
            """)
        let packets = try RTCP.parseCompound(bytes)
        #expect(packets.count == 2)
        guard case .senderReport(let sr) = packets[0], case .sourceDescription(let chunks) = packets[1] else {
            Issue.record("wrong types \(packets)"); return
        }
        #expect(sr.ssrc == 0x1122_3344)
        #expect(sr.ntpTimestamp == 0xE97F_0000_8000_0000)
        #expect(sr.rtpTimestamp == 123_456)
        #expect(sr.packetCount == 10)
        #expect(sr.octetCount == 1024)
        #expect(sr.reports == [ReceptionReport(ssrc: 0x5566_7788, fractionLost: 5, cumulativeLost: -2,
                                               highestSequence: 0x0001_0064, jitter: 32,
                                               lastSenderReport: 0x1234_5678, delaySinceLastSenderReport: 0x8000)])
        #expect(chunks.count == 1)
        #expect(chunks[0].ssrc == 0x1122_3344)
        #expect(chunks[0].cname == "user@ho")
        #expect(RTCP.serialize(packets) == bytes)
    }

    @Test func roundTripsEverySupportedType() throws {
        let packets: [RTCPPacket] = [
            .receiverReport(ReceiverReport(ssrc: 1, reports: [
                ReceptionReport(ssrc: 2, fractionLost: 255, cumulativeLost: 0x7F_FFFF, highestSequence: 3, jitter: 4,
                                lastSenderReport: 5, delaySinceLastSenderReport: 6),
                ReceptionReport(ssrc: 7, cumulativeLost: -0x80_0000),
            ])),
            .receiverReport(ReceiverReport(ssrc: 9)),
            .sourceDescription([SDESChunk(ssrc: 1, items: [SDESItem(type: 1, text: "abc"), SDESItem(type: 2, text: "Zoë")]),
                                SDESChunk(ssrc: 2, items: []),
                                SDESChunk(ssrc: 3, items: [SDESItem(type: 1, text: "12345678")])]),
            .goodbye(Goodbye(ssrcs: [1, 2], reason: "camera off")),
            .goodbye(Goodbye(ssrcs: [3])),
            .nack(GenericNACK(senderSSRC: 1, mediaSSRC: 2, lost: [100, 101, 103, 116, 117, 65535, 0, 5])),
            .pictureLossIndication(senderSSRC: 10, mediaSSRC: 20),
            .fullIntraRequest(FIR(senderSSRC: 1, entries: [FIREntry(ssrc: 2, sequenceNumber: 7), FIREntry(ssrc: 3, sequenceNumber: 255)])),
            .remb(REMB(senderSSRC: 1, bitrate: 1_000_000, ssrcs: [0xAABB_CCDD, 2])),
        ]
        let bytes = RTCP.serialize(packets)
        #expect(bytes.count % 4 == 0)
        #expect(try RTCP.parseCompound(bytes) == packets)
    }

    @Test func goodbyeWithReasonByteVector() throws {
        // BYE, SC=1, reason "bye" (3 bytes) + 0 padding to 32 bits
        let bytes = hex("81 cb 00 02 00 00 00 2a 03 62 79 65")
        #expect(try RTCP.parseCompound(bytes) == [.goodbye(Goodbye(ssrcs: [42], reason: "bye"))])
        #expect(RTCP.serialize([.goodbye(Goodbye(ssrcs: [42], reason: "bye"))]) == bytes)
    }

    @Test func nackExpandsPIDAndBLP() throws {
        // RTPFB FMT=1: PID 100, BLP 0b0000_0000_0000_0101 -> 100, 101, 103; PID 65535, BLP bit 0 -> 0 (wraps)
        let bytes = hex("81 cd 00 04 00 00 00 01 00 00 00 02 00 64 00 05 ff ff 00 01")
        let p = try RTCP.parseCompound(bytes)
        #expect(p == [.nack(GenericNACK(senderSSRC: 1, mediaSSRC: 2, lost: [100, 101, 103, 65535, 0]))])
        // and back: the serializer packs the same list into the same two pairs
        #expect(RTCP.serialize(p) == bytes)
    }

    @Test func pliAndFirByteVectors() throws {
        let pli = hex("81 ce 00 02 00 00 00 01 00 00 00 02")
        #expect(try RTCP.parseCompound(pli) == [.pictureLossIndication(senderSSRC: 1, mediaSSRC: 2)])
        let fir = hex("84 ce 00 04 00 00 00 01 00 00 00 00 00 00 00 09 03 00 00 00")
        #expect(try RTCP.parseCompound(fir) == [.fullIntraRequest(FIR(senderSSRC: 1, entries: [FIREntry(ssrc: 9, sequenceNumber: 3)]))])
        #expect(RTCP.serialize([.fullIntraRequest(FIR(senderSSRC: 1, entries: [FIREntry(ssrc: 9, sequenceNumber: 3)]))]) == fir)
    }

    @Test func rembMantissaExponent() throws {
        // exp = 0x0b >> 2 = 2, mantissa = 0x3d090 = 250000 -> 1 Mbps
        let bytes = hex("8f ce 00 05 00 00 00 01 00 00 00 00 52 45 4d 42 01 0b d0 90 12 34 56 78")
        #expect(try RTCP.parseCompound(bytes) == [.remb(REMB(senderSSRC: 1, bitrate: 1_000_000, ssrcs: [0x1234_5678]))])
        // 250000 fits 18 bits with exponent 0 when serialized from 250_000
        let small = RTCP.serialize([.remb(REMB(senderSSRC: 1, bitrate: 250_000, ssrcs: []))])
        #expect(Array(small[16...19]) == [0x52, 0x45, 0x4D, 0x42] || Array(small[12...15]) == [0x52, 0x45, 0x4D, 0x42])
        // large bitrate loses only low bits
        let big: UInt64 = 123_456_789_012
        guard case .remb(let r) = try RTCP.parseCompound(RTCP.serialize([.remb(REMB(senderSSRC: 1, bitrate: big, ssrcs: [5]))]))[0] else {
            Issue.record("not REMB"); return
        }
        #expect(r.bitrate <= big && big - r.bitrate < big >> 17)
        #expect(r.ssrcs == [5])
    }

    /// Found by the RTCP fuzz target (Fuzz/): exponent 61 overflows 64 bits, the bitrate saturates,
    /// and it serializes as the largest value 18 bits say, a fixed point from then on; the FIR after it is kept.
    @Test func rembSaturatedBitrateSerializesAsTheLargest() throws {
        let bytes = hex("8f ce 00 05 00 00 12 34 00 00 00 00 52 45 4d 42 01 f6 e9 34 00 00 56 78"
                        + "84 ce 00 04 00 00 12 34 00 00 00 00 84 00 56 78 07 00 00 00")
        let fir = RTCPPacket.fullIntraRequest(FIR(senderSSRC: 0x1234, entries: [FIREntry(ssrc: 0x8400_5678, sequenceNumber: 7)]))
        let parsed = try RTCP.parseCompound(bytes)
        #expect(parsed == [.remb(REMB(senderSSRC: 0x1234, bitrate: .max, ssrcs: [0x5678])), fir])
        let again = try RTCP.parseCompound(RTCP.serialize(parsed))
        #expect(again == [.remb(REMB(senderSSRC: 0x1234, bitrate: 0x3FFFF << 46, ssrcs: [0x5678])), fir])
        #expect(try RTCP.parseCompound(RTCP.serialize(again)) == again)
    }

    @Test func unknownTypeInTheMiddleIsSkipped() throws {
        let rr = hex("80 c9 00 01 00 00 00 07")
        let xr = hex("80 cf 00 02 00 00 00 07 de ad be ef")                 // XR
        let tmmbr = hex("83 cd 00 04 00 00 00 01 00 00 00 00 00 00 00 02 04 00 00 00")   // TMMBR (RTPFB 3)
        let app = hex("80 cc 00 02 00 00 00 07 6e 61 6d 65")                // APP
        let pli = hex("81 ce 00 02 00 00 00 01 00 00 00 02")
        let p = try RTCP.parseCompound(rr + xr + tmmbr + app + pli)
        #expect(p == [.receiverReport(ReceiverReport(ssrc: 7)), .unknown(packetType: 207, count: 0),
                      .unknown(packetType: 205, count: 3), .unknown(packetType: 204, count: 0),
                      .pictureLossIndication(senderSSRC: 1, mediaSSRC: 2)])
    }

    @Test func paddedPacket() throws {
        // RR with P bit, 4 bytes of padding (last byte = 4)
        let bytes = hex("a0 c9 00 02 00 00 00 07 00 00 00 04")
        #expect(try RTCP.parseCompound(bytes) == [.receiverReport(ReceiverReport(ssrc: 7))])
    }

    @Test func malformedPacketsThrowWithOffset() {
        let rr = hex("80 c9 00 01 00 00 00 07")
        #expect(parseError([])?.offset == 0)
        #expect(parseError(hex("80 c9 00"))?.offset == 0)                                // truncated header
        #expect(parseError(rr + hex("80 c9"))?.offset == 8)                              // truncated second header
        #expect(parseError(rr + hex("80 c9 00 05 00 00 00 07"))?.offset == 10)           // length past the end
        #expect(parseError(rr + hex("40 c9 00 01 00 00 00 07"))?.offset == 8)            // version 1
        #expect(parseError(hex("81 c9 00 01 00 00 00 07"))?.offset == 8)                 // RC=1 but no block
        #expect(parseError(hex("81 c8 00 01 00 00 00 07"))?.offset == 4)                 // SR without sender info
        #expect(parseError(hex("81 ca 00 02 00 00 00 01 01 09 61 00"))?.offset == 12 - 4) // SDES item past end
        #expect(parseError(hex("81 cb 00 02 00 00 00 2a 09 62 79 65"))?.offset == 8)     // BYE reason past end
        #expect(parseError(hex("a0 c9 00 01 00 00 00 09"))?.offset == 7)                 // padding too big
        #expect(parseError(hex("8f ce 00 04 00 00 00 01 00 00 00 00 52 45 4d 42 02 0b d0 90"))?.offset == 20) // REMB SSRCs missing
    }
}
