import SeededRandom
import Testing
@testable import RTP

@Suite struct RTPFuzzTests {
    func seeds() -> [[UInt8]] {
        var p = RTPPacket(payloadType: 96, sequenceNumber: 7, timestamp: 9, ssrc: 11, marker: true, csrcs: [1, 2],
                          extensions: [RTPHeaderExtension(id: 1, data: [1]), RTPHeaderExtension(id: 5, data: [1, 2, 3])],
                          payload: Array(0..<40))
        p.paddingLength = 3
        var q = p
        q.extensions.append(RTPHeaderExtension(id: 200, data: [9]))
        return [p.serialized(), q.serialized()]
    }

    @Test func randomAndMutatedRTPNeverCrash() {
        var rng = SplitMix64(seed: 0xF00D)
        let base = seeds()
        var parsed = 0
        for k in 0..<20_000 {
            var bytes: [UInt8]
            if k % 4 == 0 {
                bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if !bytes.isEmpty { bytes[0] = (bytes[0] & 0x3F) | 0x80 }
            } else {
                bytes = base[k % base.count]
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let i = Int.random(in: 0..<bytes.count, using: &rng)
                    bytes[i] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
                }
                if Bool.random(using: &rng) { bytes.removeLast(Int.random(in: 0..<bytes.count, using: &rng)) }
            }
            if let p = try? RTPPacket(parsing: bytes) {
                parsed += 1
                _ = p.serialized()
            }
        }
        #expect(parsed > 1000)
    }

    @Test func randomAndMutatedRTCPNeverCrash() {
        var rng = SplitMix64(seed: 0xBEEF)
        let base = RTCP.serialize([
            .senderReport(SenderReport(ssrc: 1, ntpTimestamp: 2, rtpTimestamp: 3, packetCount: 4, octetCount: 5,
                                       reports: [ReceptionReport(ssrc: 6)])),
            .sourceDescription([SDESChunk(ssrc: 1, items: [SDESItem(type: 1, text: "cname")])]),
            .goodbye(Goodbye(ssrcs: [1], reason: "x")),
            .nack(GenericNACK(senderSSRC: 1, mediaSSRC: 2, lost: [1, 2, 40])),
            .fullIntraRequest(FIR(senderSSRC: 1, entries: [FIREntry(ssrc: 2, sequenceNumber: 1)])),
            .remb(REMB(senderSSRC: 1, bitrate: 500_000, ssrcs: [1, 2])),
        ])
        var parsed = 0
        for k in 0..<20_000 {
            var bytes: [UInt8]
            if k % 4 == 0 {
                bytes = (0..<Int.random(in: 0...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if bytes.count > 1 { bytes[0] = (bytes[0] & 0x3F) | 0x80; bytes[1] = UInt8.random(in: 200...207, using: &rng) }
            } else {
                bytes = base
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    let i = Int.random(in: 0..<bytes.count, using: &rng)
                    bytes[i] = UInt8.random(in: 0...255, using: &rng)
                }
                if Bool.random(using: &rng) { bytes.removeLast(Int.random(in: 0..<bytes.count, using: &rng)) }
            }
            if let p = try? RTCP.parseCompound(bytes) {
                parsed += 1
                _ = RTCP.serialize(p)
            }
        }
        #expect(parsed > 500)
    }
}
