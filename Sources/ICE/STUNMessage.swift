/// A malformed STUN message: what was wrong and at which byte of the input.
public struct STUNError: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var reason: String

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "STUN: \(reason) (at byte \(offset))" }
}

/// A STUN message (RFC 8489 §5): 20-byte header (type, length, magic cookie, transaction ID)
/// and attribute TLVs padded to 4 bytes. Sans-IO: one datagram in, one datagram out.
///
/// ICE short-term credentials (RFC 8489 §9.1.1, RFC 8445 §7.2.2): the MESSAGE-INTEGRITY key is the
/// password bytes as they are (no SASLprep, no hashing); a request is keyed with the remote
/// agent's password, its response with the local one.
public struct STUNMessage: Sendable, Equatable {
    public enum Class: UInt8, Sendable {
        case request = 0, indication = 1, successResponse = 2, errorResponse = 3
    }

    public static let magicCookie: UInt32 = 0x2112_A442
    public static let bindingMethod: UInt16 = 0x001
    /// TURN methods (RFC 8656 §17).
    public static let allocateMethod: UInt16 = 0x003
    public static let refreshMethod: UInt16 = 0x004
    public static let sendMethod: UInt16 = 0x006
    public static let dataMethod: UInt16 = 0x007
    public static let createPermissionMethod: UInt16 = 0x008
    public static let channelBindMethod: UInt16 = 0x009
    static let headerSize = 20
    /// XORed into the CRC-32 of FINGERPRINT ("STUN").
    static let fingerprintXOR: UInt32 = 0x5354_554E

    /// 12 bits; 0x001 is Binding.
    public var method: UInt16
    public var messageClass: Class
    /// 12 bytes. `serialized` writes the first 12, zero-padded if shorter.
    public var transactionID: [UInt8]
    public var attributes: [STUNAttribute]

    public init(method: UInt16 = STUNMessage.bindingMethod, messageClass: Class, transactionID: [UInt8],
                attributes: [STUNAttribute] = []) {
        self.method = method
        self.messageClass = messageClass
        self.transactionID = transactionID
        self.attributes = attributes
    }

    // MARK: Parsing

    /// Parses one whole datagram. Attributes that follow MESSAGE-INTEGRITY other than FINGERPRINT
    /// are ignored (RFC 8489 §14.5); anything after FINGERPRINT is an error (it must be last).
    /// Neither checksum is verified here: see `verifyIntegrity` and `verifyFingerprint`.
    public init(parsing bytes: [UInt8]) throws(STUNError) {
        let (bodyEnd, _) = try Self.checkHeader(bytes)
        let type = readUInt16(bytes, 0)
        method = (type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2)
        messageClass = Class(rawValue: UInt8(((type >> 4) & 0x1) | ((type >> 7) & 0x2)))!
        transactionID = Array(bytes[8..<20])
        attributes = []
        let id = bytes[8..<20]
        var sawIntegrity = false, sawFingerprint = false
        var offset = Self.headerSize
        while offset < bodyEnd {
            let (attributeType, length) = try Self.attributeHeader(bytes, at: offset, end: bodyEnd)
            if sawFingerprint {
                throw STUNError(offset: offset, reason: String(format16: attributeType, "attribute", "follows FINGERPRINT"))
            }
            if sawIntegrity && attributeType != STUNAttribute.Kind.fingerprint {
                offset += 4 + (length + 3) & ~3   // ignored, so not decoded either
                continue
            }
            let attribute = try STUNAttribute.decode(type: attributeType, bytes: bytes, start: offset + 4,
                                                     length: length, transactionID: id)
            switch attribute {
            case .fingerprint:
                sawFingerprint = true
                attributes.append(attribute)
            case .messageIntegrity:
                sawIntegrity = true
                attributes.append(attribute)
            default:
                attributes.append(attribute)
            }
            offset += 4 + (length + 3) & ~3
        }
    }

    /// RFC 7983 demultiplexing: first byte 0...3 and the magic cookie at bytes 4...7.
    public static func isSTUN(_ bytes: [UInt8]) -> Bool {
        bytes.count >= headerSize && bytes[0] <= 3 && readUInt32(bytes, 4) == magicCookie
    }

    /// Checks size, the two zero bits, the length and the cookie; returns where the body ends and the length.
    static func checkHeader(_ bytes: [UInt8]) throws(STUNError) -> (bodyEnd: Int, length: Int) {
        guard bytes.count >= headerSize else {
            throw STUNError(offset: bytes.count, reason: "truncated header: \(bytes.count) bytes, a header is 20")
        }
        guard bytes[0] & 0xC0 == 0 else {
            throw STUNError(offset: 0, reason: "the two top bits of the message type are not zero")
        }
        let length = Int(readUInt16(bytes, 2))
        guard length % 4 == 0 else {
            throw STUNError(offset: 2, reason: "message length \(length) is not a multiple of 4")
        }
        let cookie = readUInt32(bytes, 4)
        guard cookie == magicCookie else {
            throw STUNError(offset: 4, reason: "magic cookie is 0x\(String(cookie, radix: 16)), not 0x2112a442")
        }
        guard headerSize + length == bytes.count else {
            throw STUNError(offset: 2, reason: "message length \(length) does not match the \(bytes.count - headerSize) bytes after the header")
        }
        return (headerSize + length, length)
    }

    /// Reads the type and length at `offset`, checking the padded value fits before `end`.
    static func attributeHeader(_ bytes: [UInt8], at offset: Int, end: Int) throws(STUNError) -> (type: UInt16, length: Int) {
        guard offset + 4 <= end else {
            throw STUNError(offset: offset, reason: "truncated attribute header: \(end - offset) bytes left")
        }
        let type = readUInt16(bytes, offset)
        let length = Int(readUInt16(bytes, offset + 2))
        guard offset + 4 + ((length + 3) & ~3) <= end else {
            throw STUNError(offset: offset + 2, reason: String(format16: type, "attribute",
                "length \(length) runs past the end of the message (\(end - offset - 4) bytes left)"))
        }
        return (type, length)
    }

    // MARK: Serializing

    /// The message type field: method bits M0-M11 interleaved with class bits C0 (bit 4) and C1 (bit 8).
    var typeField: UInt16 {
        let m = method & 0x0FFF, c = UInt16(messageClass.rawValue)
        return (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 1) << 4) | ((c & 2) << 7)
    }

    /// Serializes; with `integrityKey` appends MESSAGE-INTEGRITY (HMAC-SHA1 over the message with the
    /// length adjusted, RFC 8489 §14.5), then FINGERPRINT (CRC-32 XOR 0x5354554E) when `fingerprint`.
    /// MESSAGE-INTEGRITY and FINGERPRINT entries of `attributes` are not written: they are computed.
    public func serialized(integrityKey: [UInt8]? = nil, fingerprint: Bool = true) -> [UInt8] {
        let id = Array((transactionID + [UInt8](repeating: 0, count: 12)).prefix(12))
        var out: [UInt8] = [UInt8(typeField >> 8), UInt8(typeField & 0xFF), 0, 0] + bigEndian(Self.magicCookie) + id
        func setLength(_ length: Int) {
            out[2] = UInt8((length >> 8) & 0xFF)
            out[3] = UInt8(length & 0xFF)
        }
        func append(type: UInt16, _ value: [UInt8]) {
            let length = min(value.count, 0xFFFF)
            out += [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(length >> 8), UInt8(length & 0xFF)]
            out += value.prefix(length)
            out += [UInt8](repeating: 0, count: (4 - length % 4) % 4)
        }
        for attribute in attributes {
            switch attribute {
            case .messageIntegrity, .fingerprint: continue
            default: append(type: attribute.type, attribute.encodedValue(transactionID: id))
            }
        }
        if let integrityKey {
            setLength(out.count - Self.headerSize + 24)
            append(type: STUNAttribute.Kind.messageIntegrity, STUNCrypto.hmacSHA1(key: integrityKey, out))
        }
        if fingerprint {
            setLength(out.count - Self.headerSize + 8)
            let crc = STUNCrypto.crc32(out, 0..<out.count) ^ Self.fingerprintXOR
            append(type: STUNAttribute.Kind.fingerprint, bigEndian(crc))
        }
        setLength(out.count - Self.headerSize)
        return out
    }

    // MARK: Checksums

    /// Offset of the first attribute of `type` in a structurally valid message, nil when absent or
    /// when the header or attribute framing is malformed.
    static func findAttribute(_ type: UInt16, in bytes: [UInt8]) -> (offset: Int, length: Int, end: Int)? {
        guard let (end, _) = try? checkHeader(bytes) else { return nil }
        var offset = headerSize
        while offset < end {
            guard let (t, length) = try? attributeHeader(bytes, at: offset, end: end) else { return nil }
            if t == type { return (offset, length, end) }
            offset += 4 + (length + 3) & ~3
        }
        return nil
    }

    /// Checks MESSAGE-INTEGRITY of the received bytes against `key` (constant-time compare); false
    /// when absent, malformed or wrong. Only FINGERPRINT may follow it for the check to pass.
    public static func verifyIntegrity(_ bytes: [UInt8], key: [UInt8]) -> Bool {
        guard let (offset, length, end) = findAttribute(STUNAttribute.Kind.messageIntegrity, in: bytes),
              length == 20 else { return false }
        let after = offset + 24
        if after != end {
            // Only a FINGERPRINT, as the last attribute, may follow.
            guard after + 8 == end, readUInt16(bytes, after) == STUNAttribute.Kind.fingerprint,
                  readUInt16(bytes, after + 2) == 4 else { return false }
        }
        var covered = Array(bytes[0..<offset])
        let adjusted = offset + 24 - headerSize
        covered[2] = UInt8(adjusted >> 8)
        covered[3] = UInt8(adjusted & 0xFF)
        let mac = STUNCrypto.hmacSHA1(key: key, covered)
        return STUNCrypto.constantTimeEqual(bytes[(offset + 4)..<(offset + 24)], mac)
    }

    /// Checks FINGERPRINT (which must be the last attribute); false when absent, misplaced or wrong.
    public static func verifyFingerprint(_ bytes: [UInt8]) -> Bool {
        guard let (offset, length, end) = findAttribute(STUNAttribute.Kind.fingerprint, in: bytes),
              length == 4, offset + 8 == end else { return false }
        return STUNCrypto.crc32(bytes, 0..<offset) ^ fingerprintXOR == readUInt32(bytes, offset + 4)
    }

    // MARK: ICE helpers

    /// 12 random bytes from the system generator.
    public static func randomTransactionID() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<12).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// An ICE connectivity check (RFC 8445 §7.2.2): USERNAME "remoteUfrag:localUfrag", PRIORITY,
    /// ICE-CONTROLLING or ICE-CONTROLLED with the tie-breaker, USE-CANDIDATE when nominating.
    /// Serialize it with the remote password as `integrityKey`.
    public static func bindingRequest(transactionID: [UInt8] = randomTransactionID(), username: String,
                                      priority: UInt32, controlling: Bool, tieBreaker: UInt64,
                                      useCandidate: Bool = false) -> STUNMessage {
        var attributes: [STUNAttribute] = [.username(username), .priority(priority),
                                           controlling ? .iceControlling(tieBreaker) : .iceControlled(tieBreaker)]
        if useCandidate { attributes.append(.useCandidate) }
        return STUNMessage(method: bindingMethod, messageClass: .request, transactionID: transactionID,
                           attributes: attributes)
    }

    /// The success response to `request`: same method and transaction ID, XOR-MAPPED-ADDRESS =
    /// where the request came from. Serialize it with the local password as `integrityKey`.
    public static func bindingSuccess(for request: STUNMessage, mapped: STUNAddress) -> STUNMessage {
        STUNMessage(method: request.method, messageClass: .successResponse, transactionID: request.transactionID,
                    attributes: [.xorMappedAddress(mapped)])
    }

    /// An error response to `request` (e.g. 487 Role Conflict, 400 Bad Request, 401 Unauthorized).
    public static func bindingError(for request: STUNMessage, code: Int, reason: String) -> STUNMessage {
        STUNMessage(method: request.method, messageClass: .errorResponse, transactionID: request.transactionID,
                    attributes: [.errorCode(code: code, reason: reason)])
    }

    // MARK: Attribute accessors (first occurrence)

    public var username: String? {
        for case .username(let value) in attributes { return value }
        return nil
    }
    public var priority: UInt32? {
        for case .priority(let value) in attributes { return value }
        return nil
    }
    public var useCandidate: Bool { attributes.contains(.useCandidate) }
    public var iceControlling: UInt64? {
        for case .iceControlling(let value) in attributes { return value }
        return nil
    }
    public var iceControlled: UInt64? {
        for case .iceControlled(let value) in attributes { return value }
        return nil
    }
    public var xorMappedAddress: STUNAddress? {
        for case .xorMappedAddress(let value) in attributes { return value }
        return nil
    }
    public var errorCode: (code: Int, reason: String)? {
        for case .errorCode(let code, let reason) in attributes { return (code, reason) }
        return nil
    }
    public var lifetime: UInt32? {
        for case .lifetime(let value) in attributes { return value }
        return nil
    }
    public var xorPeerAddress: STUNAddress? {
        for case .xorPeerAddress(let value) in attributes { return value }
        return nil
    }
    public var xorRelayedAddress: STUNAddress? {
        for case .xorRelayedAddress(let value) in attributes { return value }
        return nil
    }
    public var data: [UInt8]? {
        for case .data(let value) in attributes { return value }
        return nil
    }
    public var realm: String? {
        for case .realm(let value) in attributes { return value }
        return nil
    }
    public var nonce: String? {
        for case .nonce(let value) in attributes { return value }
        return nil
    }
    public var channelNumber: UInt16? {
        for case .channelNumber(let value) in attributes { return value }
        return nil
    }
    public var requestedTransport: UInt8? {
        for case .requestedTransport(let value) in attributes { return value }
        return nil
    }
    /// Whether a MESSAGE-INTEGRITY attribute was received.
    public var hasMessageIntegrity: Bool {
        attributes.contains { if case .messageIntegrity = $0 { true } else { false } }
    }
}

extension String {
    /// "attribute 0x8028 <rest>".
    init(format16 type: UInt16, _ what: String, _ rest: String) {
        self = "\(what) 0x\(hex4(type)) \(rest)"
    }
}

func hex4(_ v: UInt16) -> String {
    let hex = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 4 - hex.count)) + hex
}
