import SeededRandom
import Testing
@testable import ICE

@Suite struct STUNMalformedTests {
    func parseError(_ bytes: [UInt8]) -> STUNError? {
        do {
            _ = try STUNMessage(parsing: bytes)
            return nil
        } catch {
            return error
        }
    }

    /// A Binding request header with `body` after it and the length field set to the body's size.
    func message(_ body: [UInt8]) -> [UInt8] {
        hex("00 01") + [UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + hex("21 12 a4 42") + RFC5769.transactionID + body
    }

    @Test func truncatedHeader() {
        for count in 0..<20 {
            let error = parseError(Array(RFC5769.request.prefix(count)))
            #expect(error?.offset == count)
            #expect(error?.reason.contains("truncated header") == true)
        }
    }

    @Test func lengthNotMultipleOfFour() {
        var bytes = RFC5769.request
        bytes[3] = 0x57
        let error = parseError(bytes)
        #expect(error?.offset == 2)
        #expect(error?.reason.contains("not a multiple of 4") == true)
        #expect(error?.description.contains("at byte 2") == true)
    }

    @Test func lengthDisagreesWithDatagram() {
        #expect(parseError(RFC5769.request.dropLast(4))?.offset == 2)
        #expect(parseError(RFC5769.request + [0, 0, 0, 0])?.offset == 2)
    }

    @Test func attributeLengthPastTheEnd() {
        // PRIORITY claiming 8 bytes with only 4 after its header.
        let error = parseError(message(hex("00 24 00 08 00 00 00 01")))
        #expect(error?.offset == 22)
        #expect(error?.reason.contains("runs past the end") == true)
        // Padding past the end: a 5-byte value in a 8-byte body.
        #expect(parseError(message(hex("80 22 00 05 61 62 63 64")))?.offset == 22)
        // The second attribute of the RFC request (PRIORITY at byte 40) made too long.
        var bytes = RFC5769.request
        bytes[43] = 0x80
        #expect(parseError(bytes)?.offset == 42)
    }

    @Test func badCookie() {
        var bytes = RFC5769.request
        bytes[6] ^= 0x01
        let error = parseError(bytes)
        #expect(error?.offset == 4)
        #expect(error?.reason.contains("magic cookie") == true)
        #expect(!STUNMessage.isSTUN(bytes))
    }

    @Test func topBitsSet() {
        var bytes = RFC5769.request
        bytes[0] = 0x80   // an RTP packet's first byte
        #expect(parseError(bytes)?.offset == 0)
        #expect(!STUNMessage.isSTUN(bytes))
    }

    @Test func badAttributeValues() {
        // Wrong fixed sizes name the attribute's length field.
        #expect(parseError(message(hex("00 24 00 02 00 01 00 00")))?.offset == 22)   // PRIORITY of 2 bytes
        #expect(parseError(message(hex("00 25 00 04 00 00 00 00")))?.offset == 22)   // USE-CANDIDATE with a value
        #expect(parseError(message(hex("80 29 00 04 00 00 00 01")))?.offset == 22)   // ICE-CONTROLLED of 4 bytes
        #expect(parseError(message(hex("00 08 00 04 00 00 00 01")))?.offset == 22)   // MESSAGE-INTEGRITY of 4 bytes
        // Address family 3.
        #expect(parseError(message(hex("00 20 00 08 00 03 a1 47 e1 12 a6 43")))?.offset == 25)
        // IPv6 family with an IPv4-sized value.
        #expect(parseError(message(hex("00 20 00 08 00 02 a1 47 e1 12 a6 43")))?.offset == 22)
        // USERNAME that is not UTF-8.
        #expect(parseError(message(hex("00 06 00 02 c3 28 00 00")))?.offset == 24)
        // ERROR-CODE class 7.
        #expect(parseError(message(hex("00 09 00 04 00 00 07 01")))?.offset == 26)
        // After MESSAGE-INTEGRITY a malformed attribute is ignored, not an error.
        let afterIntegrity = try? STUNMessage(parsing: message(hex("00 08 00 14") + [UInt8](repeating: 7, count: 20)
            + hex("00 24 00 02 00 01 00 00")))
        #expect(afterIntegrity?.attributes == [.messageIntegrity([UInt8](repeating: 7, count: 20))])
        // Anything after FINGERPRINT.
        #expect(parseError(message(hex("80 28 00 04 00 00 00 00 00 25 00 00")))?.offset == 28)
    }

    @Test func longTextIsCutAtACharacterBoundary() throws {
        let long = String(repeating: "é", count: 400)   // 800 bytes of UTF-8
        let bytes = STUNMessage(messageClass: .request, transactionID: RFC5769.transactionID,
                                attributes: [.username(long), .software(long)]).serialized()
        let parsed = try STUNMessage(parsing: bytes)
        #expect(parsed.username == String(repeating: "é", count: 256))
        #expect(parsed.attributes[1] == .software(String(repeating: "é", count: 381)))
    }

    @Test func isSTUNDemultiplexes() {
        #expect(STUNMessage.isSTUN(RFC5769.ipv6Response))
        #expect(!STUNMessage.isSTUN(Array(RFC5769.request.prefix(19))))
        var dtls = RFC5769.request
        dtls[0] = 22
        #expect(!STUNMessage.isSTUN(dtls))
        #expect(!STUNMessage.isSTUN([]))
    }

    /// Random bytes, headers with random bodies and mutations of valid messages: never a crash,
    /// and whatever parses serializes back to the same message.
    @Test func fuzz() throws {
        var rng = SplitMix64(seed: 0x5354_554E)
        let seeds = RFC5769.all + [
            STUNMessage.bindingRequest(username: "ab:cd", priority: 99, controlling: true, tieBreaker: 1,
                                       useCandidate: true).serialized(integrityKey: [1, 2, 3]),
            STUNMessage(messageClass: .errorResponse, transactionID: RFC5769.transactionID, attributes: [
                .errorCode(code: 487, reason: "Role Conflict"), .mappedAddress(STUNAddress(ip: "fd00::1", port: 9)),
                .unknown(type: 0x7777, value: [1, 2, 3]),
            ]).serialized(),
        ]
        var parsed = 0
        for round in 0..<20_000 {
            var bytes: [UInt8]
            switch round % 4 {
            case 0:
                bytes = (0..<Int.random(in: 0..<80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 1:
                // A valid header around random attribute bytes (length a multiple of 4).
                let body = (0..<(4 * Int.random(in: 0..<16, using: &rng))).map { _ in UInt8.random(in: 0...255, using: &rng) }
                bytes = message(body)
            default:
                bytes = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    switch Int.random(in: 0..<4, using: &rng) {
                    case 0 where !bytes.isEmpty:
                        bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                    case 1 where bytes.count >= 24:
                        // Rewrite an attribute length field (at a 4-aligned body offset).
                        let at = 20 + 4 * Int.random(in: 0..<((bytes.count - 20) / 4), using: &rng) + 2
                        if at + 1 < bytes.count { bytes[at + 1] = UInt8.random(in: 0...255, using: &rng) }
                    case 2:
                        bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng)))
                    default:
                        bytes += [UInt8](repeating: UInt8.random(in: 0...255, using: &rng), count: 4)
                    }
                }
            }
            _ = STUNMessage.isSTUN(bytes)
            _ = STUNMessage.verifyIntegrity(bytes, key: RFC5769.password)
            _ = STUNMessage.verifyFingerprint(bytes)
            guard let message = try? STUNMessage(parsing: bytes) else { continue }
            parsed += 1
            let stripped = message.attributes.filter {
                if case .messageIntegrity = $0 { return false }
                if case .fingerprint = $0 { return false }
                return true
            }
            var expected = message
            expected.attributes = stripped
            let again = try STUNMessage(parsing: message.serialized(fingerprint: false))
            #expect(again == expected, "round \(round)")
        }
        #expect(parsed > 1000)
    }
}

@Suite struct STUNEncodingTests {
    @Test func messageTypeBits() throws {
        let id = RFC5769.transactionID
        let cases: [(STUNMessage.Class, UInt16)] = [
            (.request, 0x0001), (.indication, 0x0011), (.successResponse, 0x0101), (.errorResponse, 0x0111),
        ]
        for (messageClass, type) in cases {
            let bytes = STUNMessage(messageClass: messageClass, transactionID: id).serialized(fingerprint: false)
            #expect(UInt16(bytes[0]) << 8 | UInt16(bytes[1]) == type)
            #expect(bytes.count == 20)
        }
        // All method bits survive with every class.
        for method: UInt16 in [0x000, 0x001, 0xABC, 0xFFF, 0x080, 0x010] {
            for messageClass in [STUNMessage.Class.request, .indication, .successResponse, .errorResponse] {
                let message = STUNMessage(method: method, messageClass: messageClass, transactionID: id)
                #expect(try STUNMessage(parsing: message.serialized(fingerprint: false)) == message)
            }
        }
        // 0xFFF with class error: every bit of the 14-bit type set.
        let all = STUNMessage(method: 0xFFF, messageClass: .errorResponse, transactionID: id).serialized(fingerprint: false)
        #expect(all[0] == 0x3F && all[1] == 0xFF)
    }

    @Test func attributesRoundTrip() throws {
        let message = STUNMessage(messageClass: .errorResponse, transactionID: RFC5769.transactionID, attributes: [
            .mappedAddress(STUNAddress(ip: "10.99.0.2", port: 5000)),
            .xorMappedAddress(STUNAddress(ip: "fd00::1", port: 65535)),
            .xorMappedAddress(STUNAddress(ip: "::", port: 0)),
            .username("ü:ß"), .software(""), .priority(0), .useCandidate,
            .iceControlling(.max), .iceControlled(0),
            .errorCode(code: 487, reason: "Role Conflict"),
            .unknown(type: 0xC001, value: [9]),
        ])
        let bytes = message.serialized(integrityKey: Array("secret".utf8))
        let parsed = try STUNMessage(parsing: bytes)
        #expect(Array(parsed.attributes.dropLast(2)) == message.attributes)
        #expect(parsed.errorCode?.code == 487)
        #expect(STUNMessage.verifyIntegrity(bytes, key: Array("secret".utf8)))
        #expect(STUNMessage.verifyFingerprint(bytes))
        // Received MESSAGE-INTEGRITY / FINGERPRINT entries are not written again.
        #expect(parsed.serialized(fingerprint: false) == message.serialized(fingerprint: false))
    }

    @Test func ipText() {
        let cases: [(String, String)] = [
            ("fd00::1", "fd00::1"), ("::", "::"), ("::1", "::1"), ("1::", "1::"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"),
            ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"), ("::ffff:10.0.0.1", "::ffff:10.0.0.1"), ("10.99.0.2", "10.99.0.2"),
            ("fe80::1%eth0", "fe80::1"),  // RFC 5952 §5: IPv4-mapped stays dotted; a zone id is dropped
        ]
        for (input, canonical) in cases {
            let bytes = STUNAddress(ip: input, port: 1).ipBytes
            #expect(bytes != nil, "\(input)")
            if let bytes { #expect(STUNAddress.format(ipBytes: bytes) == canonical, "\(input)") }
        }
        for bad in ["", "1.2.3", "1.2.3.256", "1.2.3.4.5", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "g::1",
                    "1:2:3:4:5:6:7", "::1.2.3"] {
            #expect(STUNAddress(ip: bad, port: 1).ipBytes == nil, "\(bad)")
        }
        #expect(STUNAddress(ip: "fd00::1", port: 5).description == "[fd00::1]:5")
    }

    @Test func bindingHelpers() throws {
        let localPassword = Array("local-password-22chars".utf8), remotePassword = Array("remote-password-22char".utf8)
        let request = STUNMessage.bindingRequest(username: "remoteUfrag:localUfrag", priority: 0x6E00_01FF,
                                                 controlling: true, tieBreaker: 42, useCandidate: true)
        #expect(request.transactionID.count == 12)
        #expect(request.messageClass == .request && request.method == 0x001)
        let wire = request.serialized(integrityKey: remotePassword)
        #expect(STUNMessage.verifyIntegrity(wire, key: remotePassword))
        #expect(!STUNMessage.verifyIntegrity(wire, key: localPassword))
        let received = try STUNMessage(parsing: wire)
        #expect(received.username == "remoteUfrag:localUfrag")
        #expect(received.priority == 0x6E00_01FF)
        #expect(received.iceControlling == 42 && received.iceControlled == nil)
        #expect(received.useCandidate)

        let from = STUNAddress(ip: "10.99.0.2", port: 40000)
        let response = STUNMessage.bindingSuccess(for: received, mapped: from).serialized(integrityKey: localPassword)
        let parsedResponse = try STUNMessage(parsing: response)
        #expect(parsedResponse.messageClass == .successResponse)
        #expect(parsedResponse.transactionID == request.transactionID)
        #expect(parsedResponse.xorMappedAddress == from)
        #expect(STUNMessage.verifyIntegrity(response, key: localPassword))
        #expect(STUNMessage.verifyFingerprint(response))

        let error = try STUNMessage(parsing: STUNMessage.bindingError(for: received, code: 487, reason: "Role Conflict").serialized())
        #expect(error.messageClass == .errorResponse)
        #expect(error.errorCode?.code == 487 && error.errorCode?.reason == "Role Conflict")
        #expect(STUNMessage.bindingRequest(username: "a:b", priority: 1, controlling: false, tieBreaker: 1).transactionID
                != request.transactionID)
    }
}
