/// A STUN attribute (RFC 8489 §14, RFC 8445 §16.1). Types this codec does not interpret stay as
/// `.unknown` with their raw value (the caller decides on comprehension-required ones, < 0x8000).
public enum STUNAttribute: Sendable, Equatable {
    case mappedAddress(STUNAddress)
    /// Port XOR the cookie's top 16 bits, address XOR the cookie (IPv4) or cookie + transaction ID (IPv6).
    case xorMappedAddress(STUNAddress)
    /// At most 513 bytes of UTF-8.
    case username(String)
    case priority(UInt32)
    case useCandidate
    case iceControlled(UInt64)
    case iceControlling(UInt64)
    /// `code` 300...699; the reason is at most 763 bytes of UTF-8.
    case errorCode(code: Int, reason: String)
    /// The 20-byte HMAC-SHA1 as received. `serialized` computes its own and drops this one.
    case messageIntegrity([UInt8])
    /// The CRC as received. `serialized` computes its own and drops this one.
    case fingerprint(UInt32)
    /// At most 763 bytes of UTF-8.
    case software(String)
    /// TURN (RFC 8656 §18): the channel of a ChannelBind (0x4000...0x7FFE, in the top 16 bits).
    case channelNumber(UInt16)
    /// TURN: the allocation's or refresh's lifetime in seconds.
    case lifetime(UInt32)
    /// TURN: the peer of a Send or Data indication, CreatePermission or ChannelBind (XORed like
    /// XOR-MAPPED-ADDRESS).
    case xorPeerAddress(STUNAddress)
    /// TURN: the application data of a Send or Data indication.
    case data([UInt8])
    /// Long-term credentials (RFC 8489 §14.9, §14.10): at most 763 bytes of UTF-8 each.
    case realm(String)
    case nonce(String)
    /// TURN: the allocated relayed transport address.
    case xorRelayedAddress(STUNAddress)
    /// TURN: the IP protocol number of the allocation's transport (17, UDP).
    case requestedTransport(UInt8)
    case unknown(type: UInt16, value: [UInt8])

    /// Attribute type codes.
    public enum Kind {
        public static let mappedAddress: UInt16 = 0x0001
        public static let username: UInt16 = 0x0006
        public static let messageIntegrity: UInt16 = 0x0008
        public static let errorCode: UInt16 = 0x0009
        public static let unknownAttributes: UInt16 = 0x000A
        public static let channelNumber: UInt16 = 0x000C
        public static let lifetime: UInt16 = 0x000D
        public static let xorPeerAddress: UInt16 = 0x0012
        public static let data: UInt16 = 0x0013
        public static let realm: UInt16 = 0x0014
        public static let nonce: UInt16 = 0x0015
        public static let xorRelayedAddress: UInt16 = 0x0016
        public static let requestedTransport: UInt16 = 0x0019
        public static let xorMappedAddress: UInt16 = 0x0020
        public static let priority: UInt16 = 0x0024
        public static let useCandidate: UInt16 = 0x0025
        public static let software: UInt16 = 0x8022
        public static let fingerprint: UInt16 = 0x8028
        public static let iceControlled: UInt16 = 0x8029
        public static let iceControlling: UInt16 = 0x802A
    }

    /// The attribute's type code.
    public var type: UInt16 {
        switch self {
        case .mappedAddress: Kind.mappedAddress
        case .xorMappedAddress: Kind.xorMappedAddress
        case .username: Kind.username
        case .priority: Kind.priority
        case .useCandidate: Kind.useCandidate
        case .iceControlled: Kind.iceControlled
        case .iceControlling: Kind.iceControlling
        case .errorCode: Kind.errorCode
        case .messageIntegrity: Kind.messageIntegrity
        case .fingerprint: Kind.fingerprint
        case .software: Kind.software
        case .channelNumber: Kind.channelNumber
        case .lifetime: Kind.lifetime
        case .xorPeerAddress: Kind.xorPeerAddress
        case .data: Kind.data
        case .realm: Kind.realm
        case .nonce: Kind.nonce
        case .xorRelayedAddress: Kind.xorRelayedAddress
        case .requestedTransport: Kind.requestedTransport
        case .unknown(let type, _): type
        }
    }

    static let maxUsernameBytes = 513
    static let maxTextBytes = 763

    /// Decodes the value at `bytes[start..<start+length]` of an attribute of `type`.
    static func decode(type: UInt16, bytes: [UInt8], start: Int, length: Int,
                       transactionID: ArraySlice<UInt8>) throws(STUNError) -> STUNAttribute {
        let value = bytes[start..<(start + length)]
        func need(_ count: Int, _ name: String) throws(STUNError) {
            guard length == count else {
                throw STUNError(offset: start - 2, reason: "\(name) value is \(length) bytes, expected \(count)")
            }
        }
        func text(_ name: String, max: Int, from: Int) throws(STUNError) -> String {
            guard value.count - (from - start) <= max else {
                throw STUNError(offset: start - 2, reason: "\(name) is \(length) bytes, more than \(max)")
            }
            guard let string = String(validating: bytes[from..<(start + length)], as: UTF8.self) else {
                throw STUNError(offset: from, reason: "\(name) is not UTF-8")
            }
            return string
        }
        switch type {
        case Kind.mappedAddress:
            return .mappedAddress(try decodeAddress(bytes, start: start, length: length, xor: nil))
        case Kind.xorMappedAddress:
            return .xorMappedAddress(try decodeAddress(bytes, start: start, length: length, xor: transactionID))
        case Kind.username:
            return .username(try text("USERNAME", max: maxUsernameBytes, from: start))
        case Kind.priority:
            try need(4, "PRIORITY")
            return .priority(readUInt32(bytes, start))
        case Kind.useCandidate:
            try need(0, "USE-CANDIDATE")
            return .useCandidate
        case Kind.iceControlled:
            try need(8, "ICE-CONTROLLED")
            return .iceControlled(UInt64(readUInt32(bytes, start)) << 32 | UInt64(readUInt32(bytes, start + 4)))
        case Kind.iceControlling:
            try need(8, "ICE-CONTROLLING")
            return .iceControlling(UInt64(readUInt32(bytes, start)) << 32 | UInt64(readUInt32(bytes, start + 4)))
        case Kind.errorCode:
            guard length >= 4 else {
                throw STUNError(offset: start - 2, reason: "ERROR-CODE value is \(length) bytes, expected at least 4")
            }
            let hundreds = Int(bytes[start + 2] & 0x07), number = Int(bytes[start + 3])
            guard (3...6).contains(hundreds), number < 100 else {
                throw STUNError(offset: start + 2, reason: "ERROR-CODE class \(hundreds) number \(number) out of range")
            }
            return .errorCode(code: hundreds * 100 + number,
                              reason: try text("ERROR-CODE reason", max: maxTextBytes, from: start + 4))
        case Kind.messageIntegrity:
            try need(20, "MESSAGE-INTEGRITY")
            return .messageIntegrity(Array(value))
        case Kind.fingerprint:
            try need(4, "FINGERPRINT")
            return .fingerprint(readUInt32(bytes, start))
        case Kind.software:
            return .software(try text("SOFTWARE", max: maxTextBytes, from: start))
        case Kind.channelNumber:
            try need(4, "CHANNEL-NUMBER")
            return .channelNumber(readUInt16(bytes, start))
        case Kind.lifetime:
            try need(4, "LIFETIME")
            return .lifetime(readUInt32(bytes, start))
        case Kind.xorPeerAddress:
            return .xorPeerAddress(try decodeAddress(bytes, start: start, length: length, xor: transactionID))
        case Kind.data:
            return .data(Array(value))
        case Kind.realm:
            return .realm(try text("REALM", max: maxTextBytes, from: start))
        case Kind.nonce:
            return .nonce(try text("NONCE", max: maxTextBytes, from: start))
        case Kind.xorRelayedAddress:
            return .xorRelayedAddress(try decodeAddress(bytes, start: start, length: length, xor: transactionID))
        case Kind.requestedTransport:
            try need(4, "REQUESTED-TRANSPORT")
            return .requestedTransport(bytes[start])
        default:
            return .unknown(type: type, value: Array(value))
        }
    }

    /// (XOR-)MAPPED-ADDRESS: reserved byte, family (1 IPv4, 2 IPv6), port, address.
    static func decodeAddress(_ bytes: [UInt8], start: Int, length: Int,
                              xor transactionID: ArraySlice<UInt8>?) throws(STUNError) -> STUNAddress {
        guard length >= 4 else {
            throw STUNError(offset: start - 2, reason: "address value is \(length) bytes, expected 8 or 20")
        }
        let family = bytes[start + 1]
        let addressLength: Int
        switch family {
        case 1: addressLength = 4
        case 2: addressLength = 16
        default: throw STUNError(offset: start + 1, reason: "address family \(family) is neither 1 (IPv4) nor 2 (IPv6)")
        }
        guard length == 4 + addressLength else {
            throw STUNError(offset: start - 2, reason: "address value is \(length) bytes, expected \(4 + addressLength)")
        }
        var port = UInt16(bytes[start + 2]) << 8 | UInt16(bytes[start + 3])
        var address = Array(bytes[(start + 4)..<(start + 4 + addressLength)])
        if let transactionID {
            port ^= UInt16(STUNMessage.magicCookie >> 16)
            let mask = xorMask(transactionID)
            for i in address.indices { address[i] ^= mask[i] }
        }
        return STUNAddress(ip: STUNAddress.format(ipBytes: address)!, port: port)
    }

    /// The magic cookie followed by the transaction ID: what XOR-MAPPED-ADDRESS masks with.
    static func xorMask(_ transactionID: some Collection<UInt8>) -> [UInt8] {
        [0x21, 0x12, 0xA4, 0x42] + transactionID
    }

    /// The value bytes (without padding) of this attribute.
    func encodedValue(transactionID: [UInt8]) -> [UInt8] {
        switch self {
        case .mappedAddress(let address):
            return Self.encodeAddress(address, xor: nil)
        case .xorMappedAddress(let address):
            return Self.encodeAddress(address, xor: transactionID)
        case .username(let s):
            return utf8Prefix(s, Self.maxUsernameBytes)
        case .software(let s):
            return utf8Prefix(s, Self.maxTextBytes)
        case .priority(let p):
            return bigEndian(p)
        case .useCandidate:
            return []
        case .iceControlled(let t), .iceControlling(let t):
            return bigEndian(UInt32(t >> 32)) + bigEndian(UInt32(t & 0xFFFF_FFFF))
        case .errorCode(let code, let reason):
            let clamped = min(max(code, 300), 699)
            return [0, 0, UInt8(clamped / 100), UInt8(clamped % 100)] + utf8Prefix(reason, Self.maxTextBytes)
        case .messageIntegrity(let mac):
            return mac
        case .fingerprint(let crc):
            return bigEndian(crc)
        case .channelNumber(let number):
            return [UInt8(number >> 8), UInt8(number & 0xFF), 0, 0]
        case .lifetime(let seconds):
            return bigEndian(seconds)
        case .xorPeerAddress(let address), .xorRelayedAddress(let address):
            return Self.encodeAddress(address, xor: transactionID)
        case .data(let bytes):
            return bytes
        case .realm(let s), .nonce(let s):
            return utf8Prefix(s, Self.maxTextBytes)
        case .requestedTransport(let proto):
            return [proto, 0, 0, 0]
        case .unknown(_, let value):
            return value
        }
    }

    /// An `ip` that is neither IPv4 nor IPv6 text is written as 0.0.0.0 (see `STUNAddress.ipBytes`).
    static func encodeAddress(_ address: STUNAddress, xor transactionID: [UInt8]?) -> [UInt8] {
        var ip = address.ipBytes ?? [0, 0, 0, 0]
        var port = address.port
        if let transactionID {
            port ^= UInt16(STUNMessage.magicCookie >> 16)
            let mask = xorMask(transactionID)
            for i in ip.indices { ip[i] ^= mask[i] }
        }
        return [0, ip.count == 4 ? 1 : 2, UInt8(port >> 8), UInt8(port & 0xFF)] + ip
    }
}

/// The UTF-8 of `s`, cut to at most `max` bytes at a character boundary.
func utf8Prefix(_ s: String, _ max: Int) -> [UInt8] {
    let all = Array(s.utf8)
    guard all.count > max else { return all }
    var out: [UInt8] = []
    for character in s {
        let bytes = Array(String(character).utf8)
        guard out.count + bytes.count <= max else { break }
        out += bytes
    }
    return out
}

func readUInt32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
}

func readUInt16(_ bytes: [UInt8], _ at: Int) -> UInt16 {
    UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1])
}

func bigEndian(_ v: UInt32) -> [UInt8] {
    [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
}
