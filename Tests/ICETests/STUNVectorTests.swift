import Testing
@testable import ICE

/// Hex as the RFCs print it (spaces, line breaks) to bytes.
func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter(\.isHexDigit))
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// RFC 5769 test vectors, typed from the RFC text. The short-term password of all three.
enum RFC5769 {
    static let password = Array("VOkJxbRl1RmTxUk/WvJxBt".utf8)
    static let transactionID = hex("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae")

    /// §2.1 Sample Request: SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME (padded with spaces),
    /// MESSAGE-INTEGRITY, FINGERPRINT.
    static let request = hex("""
        00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
        00 24 00 04 6e 00 01 ff
        80 29 00 08 93 2f f9 b1 51 26 3b 36
        00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
        00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
        80 28 00 04 e5 7a 3b cf
        """)

    /// §2.2 Sample IPv4 Response: SOFTWARE "test vector", XOR-MAPPED-ADDRESS 192.0.2.1:32853.
    static let ipv4Response = hex("""
        01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
        00 20 00 08 00 01 a1 47 e1 12 a6 43
        00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
        80 28 00 04 c0 7d 4c 96
        """)

    /// §2.3 Sample IPv6 Response: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853.
    static let ipv6Response = hex("""
        01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
        00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
        00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
        80 28 00 04 c8 fb 0b 4c
        """)

    static let all = [request, ipv4Response, ipv6Response]
}

@Suite struct STUNVectorTests {
    @Test func sampleRequestParses() throws {
        #expect(RFC5769.request.count == 108)
        let message = try STUNMessage(parsing: RFC5769.request)
        #expect(message.method == 0x001)
        #expect(message.messageClass == .request)
        #expect(message.transactionID == RFC5769.transactionID)
        #expect(message.attributes == [
            .software("STUN test client"),
            .priority(0x6E00_01FF),
            .iceControlled(0x932F_F9B1_5126_3B36),
            .username("evtj:h6vY"),
            .messageIntegrity(hex("9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2")),
            .fingerprint(0xE57A_3BCF),
        ])
        #expect(message.username == "evtj:h6vY")
        #expect(message.priority == 0x6E00_01FF)
        #expect(message.iceControlled == 0x932F_F9B1_5126_3B36)
        #expect(message.iceControlling == nil)
        #expect(!message.useCandidate)
    }

    @Test func sampleRequestVerifies() {
        #expect(STUNMessage.verifyIntegrity(RFC5769.request, key: RFC5769.password))
        #expect(STUNMessage.verifyFingerprint(RFC5769.request))
        #expect(!STUNMessage.verifyIntegrity(RFC5769.request, key: Array("VOkJxbRl1RmTxUk/WvJxBT".utf8)))
        #expect(!STUNMessage.verifyIntegrity(RFC5769.request, key: []))
        #expect(STUNMessage.isSTUN(RFC5769.request))
    }

    /// Our own request with the same fields: byte for byte the RFC's up to MESSAGE-INTEGRITY except
    /// the USERNAME padding (the RFC pads with spaces, we with zeros), and it verifies.
    @Test func sampleRequestReserialized() throws {
        let ours = STUNMessage(messageClass: .request, transactionID: RFC5769.transactionID, attributes: [
            .software("STUN test client"), .priority(0x6E00_01FF), .iceControlled(0x932F_F9B1_5126_3B36),
            .username("evtj:h6vY"),
        ]).serialized(integrityKey: RFC5769.password)
        #expect(ours.count == RFC5769.request.count)
        var expected = RFC5769.request
        expected[73] = 0; expected[74] = 0; expected[75] = 0   // USERNAME padding
        #expect(Array(ours[0..<76]) == Array(expected[0..<76]))
        #expect(Array(ours[76..<80]) == hex("00 08 00 14"))
        #expect(Array(ours[100..<104]) == hex("80 28 00 04"))
        #expect(STUNMessage.verifyIntegrity(ours, key: RFC5769.password))
        #expect(STUNMessage.verifyFingerprint(ours))
        #expect(!STUNMessage.verifyIntegrity(ours, key: Array("wrong".utf8)))

        // A parse of both gives the same fields.
        let theirs = try STUNMessage(parsing: RFC5769.request)
        let reparsed = try STUNMessage(parsing: ours)
        #expect(Array(reparsed.attributes.prefix(4)) == Array(theirs.attributes.prefix(4)))
    }

    @Test func ipv4ResponseParsesAndVerifies() throws {
        let message = try STUNMessage(parsing: RFC5769.ipv4Response)
        #expect(message.method == 0x001)
        #expect(message.messageClass == .successResponse)
        #expect(message.transactionID == RFC5769.transactionID)
        #expect(Array(message.attributes.prefix(2)) == [
            .software("test vector"), .xorMappedAddress(STUNAddress(ip: "192.0.2.1", port: 32853)),
        ])
        #expect(message.xorMappedAddress == STUNAddress(ip: "192.0.2.1", port: 32853))
        #expect(STUNMessage.verifyIntegrity(RFC5769.ipv4Response, key: RFC5769.password))
        #expect(STUNMessage.verifyFingerprint(RFC5769.ipv4Response))

        // Encoding the address gives the RFC's XORed value.
        let ours = STUNMessage(messageClass: .successResponse, transactionID: RFC5769.transactionID,
                               attributes: [.xorMappedAddress(STUNAddress(ip: "192.0.2.1", port: 32853))])
            .serialized(fingerprint: false)
        #expect(Array(ours[20...]) == hex("00 20 00 08 00 01 a1 47 e1 12 a6 43"))
    }

    @Test func ipv6ResponseParsesAndVerifies() throws {
        let message = try STUNMessage(parsing: RFC5769.ipv6Response)
        #expect(message.messageClass == .successResponse)
        let address = STUNAddress(ip: "2001:db8:1234:5678:11:2233:4455:6677", port: 32853)
        #expect(message.xorMappedAddress == address)
        #expect(STUNMessage.verifyIntegrity(RFC5769.ipv6Response, key: RFC5769.password))
        #expect(STUNMessage.verifyFingerprint(RFC5769.ipv6Response))

        let ours = STUNMessage(messageClass: .successResponse, transactionID: RFC5769.transactionID,
                               attributes: [.xorMappedAddress(address)]).serialized(fingerprint: false)
        #expect(Array(ours[20...]) == hex("00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9"))
    }

    /// Every single changed byte of a message breaks its integrity or its fingerprint.
    @Test(arguments: 0..<3) func flippedBytesAreCaught(vector: Int) {
        let ours = STUNMessage.bindingRequest(username: "remote:local", priority: 1_853_817_087,
                                              controlling: true, tieBreaker: 0x0123_4567_89AB_CDEF, useCandidate: true)
            .serialized(integrityKey: RFC5769.password)
        for original in [RFC5769.all[vector], ours] {
            #expect(STUNMessage.verifyIntegrity(original, key: RFC5769.password))
            #expect(STUNMessage.verifyFingerprint(original))
            for position in original.indices {
                for flip: UInt8 in [0x01, 0x80, 0xFF] {
                    var bytes = original
                    bytes[position] ^= flip
                    let integrity = STUNMessage.verifyIntegrity(bytes, key: RFC5769.password)
                    let fingerprint = STUNMessage.verifyFingerprint(bytes)
                    #expect(!(integrity && fingerprint), "byte \(position) ^ \(flip) went unnoticed")
                }
            }
        }
    }

    @Test func integrityWithoutFingerprint() throws {
        let message = STUNMessage.bindingRequest(username: "a:b", priority: 7, controlling: false, tieBreaker: 9)
        let bytes = message.serialized(integrityKey: Array("pw".utf8), fingerprint: false)
        #expect(STUNMessage.verifyIntegrity(bytes, key: Array("pw".utf8)))
        #expect(!STUNMessage.verifyFingerprint(bytes))
        let plain = message.serialized(fingerprint: false)
        #expect(!STUNMessage.verifyIntegrity(plain, key: Array("pw".utf8)))
        #expect(try STUNMessage(parsing: plain) == message)
        // An attribute after MESSAGE-INTEGRITY (other than FINGERPRINT) fails the check and is
        // dropped by the parser.
        var extended = bytes + hex("80 22 00 04 61 62 63 64")
        extended[3] += 8
        #expect(!STUNMessage.verifyIntegrity(extended, key: Array("pw".utf8)))
        #expect(try STUNMessage(parsing: extended).attributes.count == message.attributes.count + 1)
    }

    @Test func hmacAndCRCKnownAnswers() {
        // RFC 2202 HMAC-SHA1 test cases 1 and 6 (key longer than a block).
        #expect(STUNCrypto.hmacSHA1(key: [UInt8](repeating: 0x0B, count: 20), Array("Hi There".utf8))
                == hex("b617318655057264e28bc0b6fb378c8ef146be00"))
        #expect(STUNCrypto.hmacSHA1(key: [UInt8](repeating: 0xAA, count: 80),
                                    Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
                == hex("aa4ae5e15272d00e95705637ce8a3b55ed402112"))
        let check = Array("123456789".utf8)
        #expect(STUNCrypto.crc32(check, 0..<check.count) == 0xCBF4_3926)
    }
}
