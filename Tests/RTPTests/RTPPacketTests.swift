import Testing
@testable import RTP

@Suite struct RTPPacketTests {
    @Test func parsesMinimalHeaderByteVector() throws {
        // V=2, M=1, PT=111, seq=0x1234, ts=0xDEADBEEF, ssrc=0x01020304, payload "abc"
        let bytes = hex("80 ef 12 34 de ad be ef 01 02 03 04 61 62 63")
        let p = try RTPPacket(parsing: bytes)
        #expect(p.marker)
        #expect(p.payloadType == 111)
        #expect(p.sequenceNumber == 0x1234)
        #expect(p.timestamp == 0xDEAD_BEEF)
        #expect(p.ssrc == 0x0102_0304)
        #expect(p.csrcs.isEmpty)
        #expect(p.extensionProfile == nil)
        #expect(Array(p.payload) == [0x61, 0x62, 0x63])
        #expect(p.serialized() == bytes)
    }

    @Test func parsesRFC8285OneByteExample() throws {
        // RFC 8285 §4.2 layout: 0xBEDE, length 3 words: ID1 L0 (1 byte), ID2 L1 (2 bytes), 2 padding, ID3 L3 (4 bytes)
        let bytes = hex("""
            90 60 00 01 00 00 00 10 00 00 00 2a
            be de 00 03
            10 aa 21 bb
            bb 00 00 33
            cc cc cc cc
            ff
            """)
        let p = try RTPPacket(parsing: bytes)
        #expect(p.extensionProfile == 0xBEDE)
        #expect(p.extensions == [
            RTPHeaderExtension(id: 1, data: [0xAA]),
            RTPHeaderExtension(id: 2, data: [0xBB, 0xBB]),
            RTPHeaderExtension(id: 3, data: [0xCC, 0xCC, 0xCC, 0xCC]),
        ])
        #expect(p.extensionData(id: 2) == [0xBB, 0xBB])
        #expect(p.extensionData(id: 9) == nil)
        #expect(Array(p.payload) == [0xFF])
    }

    @Test func parsesTwoByteExtensions() throws {
        // 0x1000 profile: id 1 len 0, id 20 len 3, padding
        let bytes = hex("""
            90 60 00 01 00 00 00 10 00 00 00 2a
            10 00 00 02
            01 00 14 03
            01 02 03 00
            99
            """)
        let p = try RTPPacket(parsing: bytes)
        #expect(p.extensionProfile == 0x1000)
        #expect(p.extensions == [RTPHeaderExtension(id: 1, data: []), RTPHeaderExtension(id: 20, data: [1, 2, 3])])
        #expect(p.serialized() == bytes)
    }

    @Test func roundTripWithCSRCsPaddingAndOneByteExtensions() throws {
        var p = RTPPacket(payloadType: 96, sequenceNumber: 65535, timestamp: 4_000_000_000, ssrc: 0xCAFEBABE,
                          marker: true, csrcs: [1, 2, 0xFFFF_FFFF],
                          extensions: [RTPHeaderExtension(id: 1, data: [0x85]),
                                       RTPHeaderExtension(id: 14, data: Array(0..<16))],
                          payload: Array(0..<100))
        p.paddingLength = 7
        let bytes = p.serialized()
        #expect(bytes[0] == 0x80 | 0x20 | 0x10 | 3)
        #expect(bytes[12 + 12] == 0xBE && bytes[12 + 13] == 0xDE)
        #expect(bytes.last == 7)
        var back = try RTPPacket(parsing: bytes)
        #expect(back.extensionProfile == 0xBEDE)
        back.extensionProfile = nil
        #expect(back == p)
        #expect(back.paddingLength == 7)
        #expect(back.payload.count == 100)
    }

    @Test func serializesTwoByteWhenElementsDoNotFit() throws {
        let p = RTPPacket(payloadType: 96, sequenceNumber: 1, timestamp: 2, ssrc: 3,
                          extensions: [RTPHeaderExtension(id: 3, data: [1]),
                                       RTPHeaderExtension(id: 15, data: Array(repeating: 7, count: 17))],
                          payload: [1, 2, 3])
        let bytes = p.serialized()
        #expect(bytes[12] == 0x10 && bytes[13] == 0x00)
        let back = try RTPPacket(parsing: bytes)
        #expect(back.extensionProfile == 0x1000)
        #expect(back.extensions == p.extensions)
        #expect(Array(back.payload) == [1, 2, 3])
        #expect(try RTPPacket(parsing: back.serialized()) == back)
    }

    @Test func opaqueExtensionIsKept() throws {
        let bytes = hex("90 00 00 01 00 00 00 02 00 00 00 03 ab cd 00 01 de ad be ef 42")
        let p = try RTPPacket(parsing: bytes)
        #expect(p.extensionProfile == 0xABCD)
        #expect(p.extensions.isEmpty)
        #expect(p.opaqueExtensionData == [0xDE, 0xAD, 0xBE, 0xEF])
        #expect(p.serialized() == bytes)
    }

    @Test func errorsNameTheOffset() {
        func failure(_ b: [UInt8]) -> RTPError? {
            do { _ = try RTPPacket(parsing: b); return nil } catch { return error }
        }
        #expect(failure([0x80, 0, 0])?.offset == 0)                                    // truncated
        #expect(failure(hex("40 00 00 01 00 00 00 02 00 00 00 03"))?.offset == 0)      // version 1
        #expect(failure(hex("82 00 00 01 00 00 00 02 00 00 00 03 00 00 00 01"))?.offset == 12) // 2 CSRCs, 1 present
        #expect(failure(hex("90 00 00 01 00 00 00 02 00 00 00 03 be de 00 02 10 aa 00 00"))?.offset == 14) // ext length
        #expect(failure(hex("90 00 00 01 00 00 00 02 00 00 00 03 be de 00 01 13 aa 00 00"))?.offset == 16) // element past block
        #expect(failure(hex("a0 00 00 01 00 00 00 02 00 00 00 03 01 02 09"))?.offset == 14) // padding too long
        #expect(failure(hex("a0 00 00 01 00 00 00 02 00 00 00 03 01 02 00"))?.offset == 14) // padding 0
        #expect(failure(hex("a0 00 00 01 00 00 00 02 00 00 00 03"))?.offset == 12)          // P without bytes
        #expect(failure([])?.description.contains("12 bytes") == true)
    }

    @Test func paddingOnlyPacketHasEmptyPayload() throws {
        let p = try RTPPacket(parsing: hex("a0 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04"))
        #expect(p.payload.isEmpty)
        #expect(p.paddingLength == 4)
    }

    @Test func demultiplexesRTCP() {
        #expect(isRTCP([0x80, 200]))           // SR
        #expect(isRTCP([0x81, 201]))           // RR
        #expect(isRTCP([0x8f, 206]))           // PSFB
        #expect(isRTCP([0x80, 192]))
        #expect(isRTCP([0x80, 223]))
        #expect(!isRTCP([0x80, 96]))           // VP8 without marker
        #expect(!isRTCP([0x80, 96 | 0x80]))    // marker set: 224
        #expect(!isRTCP([0x80, 0x80 | 111]))
        #expect(!isRTCP([0x80, 191]))
        #expect(!isRTCP([0x80]))
    }

    @Test func readsAudioLevel() {
        #expect(audioLevel(extensionData: [0x80 | 30])! == (voice: true, level: 30))
        #expect(audioLevel(extensionData: [127])! == (voice: false, level: 127))
        #expect(audioLevel(extensionData: []) == nil)
    }
}
