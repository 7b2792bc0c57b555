import COpenSSL

/// TURN (RFC 8656) framing the agent's relay needs: long-term credential keys, ChannelData, Send
/// indications and the client's requests.
public enum TURN {
    /// The IP protocol number REQUESTED-TRANSPORT carries for a UDP allocation.
    public static let udpTransport: UInt8 = 17
    /// Channel numbers a client may bind (RFC 8656 §12: 0x4000 through 0x4FFF; RFC 5766 allowed up
    /// to 0x7FFE, but RFC 7983 demultiplexing only knows first bytes 64...79).
    public static let channelRange: ClosedRange<UInt16> = 0x4000...0x4FFF

    /// The long-term credential key (RFC 8489 §9.2.2): MD5("username:realm:password"). The strings
    /// are taken as they are (no OpaqueString/SASLprep: ASCII credentials assumed).
    public static func longTermKey(username: String, realm: String, password: String) -> [UInt8] {
        let input = Array("\(username):\(realm):\(password)".utf8)
        var out = [UInt8](repeating: 0, count: 16)
        var size: UInt32 = 0
        let ok = input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                EVP_Digest(i.baseAddress, i.count, o.baseAddress, &size, EVP_md5(), nil)
            }
        }
        precondition(ok == 1 && size == 16, "OpenSSL MD5 failed")
        return out
    }

    // MARK: ChannelData (RFC 8656 §12.4)

    /// Whether `bytes` starts like a ChannelData message (RFC 7983: first byte 64...79).
    public static func isChannelData(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && (64...79).contains(bytes[0])
    }

    /// A ChannelData message: channel number, length, the data (no padding: over UDP it is optional).
    public static func channelData(channel: UInt16, _ data: [UInt8]) -> [UInt8] {
        let length = min(data.count, 0xFFFF)
        var out = [UInt8(channel >> 8), UInt8(channel & 0xFF), UInt8(length >> 8), UInt8(length & 0xFF)]
        out.reserveCapacity(4 + length)
        out += data.prefix(length)
        return out
    }

    /// The channel and data of a ChannelData message; nil when the header is short or the length
    /// runs past the datagram (trailing padding is allowed).
    public static func parseChannelData(_ bytes: [UInt8]) -> (channel: UInt16, data: [UInt8])? {
        guard isChannelData(bytes) else { return nil }
        let channel = readUInt16(bytes, 0), length = Int(readUInt16(bytes, 2))
        guard 4 + length <= bytes.count else { return nil }
        return (channel, Array(bytes[4..<(4 + length)]))
    }

    // MARK: Indications

    /// A Send indication (RFC 8656 §11.1): `data` for `peer`, no integrity.
    public static func sendIndication(to peer: STUNAddress, _ data: [UInt8], transactionID: [UInt8]) -> [UInt8] {
        STUNMessage(method: STUNMessage.sendMethod, messageClass: .indication, transactionID: transactionID,
                    attributes: [.xorPeerAddress(peer), .data(data)]).serialized(fingerprint: false)
    }
}

/// A request the agent's TURN client sends (RFC 8656 §7-§12): what to rebuild it from when it must
/// be sent again with a new NONCE.
enum TURNRequest: Equatable {
    case allocate
    /// Lifetime 0 releases the allocation.
    case refresh(lifetime: UInt32)
    case createPermission(ip: String)
    case channelBind(channel: UInt16, peer: STUNAddress)

    var method: UInt16 {
        switch self {
        case .allocate: STUNMessage.allocateMethod
        case .refresh: STUNMessage.refreshMethod
        case .createPermission: STUNMessage.createPermissionMethod
        case .channelBind: STUNMessage.channelBindMethod
        }
    }

    /// The request's own attributes (credentials are added by the agent).
    var attributes: [STUNAttribute] {
        switch self {
        case .allocate: [.requestedTransport(TURN.udpTransport)]
        case .refresh(let lifetime): [.lifetime(lifetime)]
        // The port of XOR-PEER-ADDRESS is ignored in a CreatePermission (§9.1).
        case .createPermission(let ip): [.xorPeerAddress(STUNAddress(ip: ip, port: 0))]
        case .channelBind(let channel, let peer): [.channelNumber(channel), .xorPeerAddress(peer)]
        }
    }

    var name: String {
        switch self {
        case .allocate: "Allocate"
        case .refresh: "Refresh"
        case .createPermission: "CreatePermission"
        case .channelBind: "ChannelBind"
        }
    }
}

/// The agent's TURN allocation (one per agent, on ``ICEAgentOptions/turnServer``): its
/// credentials, the relayed candidate, permissions and channels, and their refresh times.
struct TURNAllocation {
    enum Phase: Equatable {
        /// ``ICEAgent/gatherRelayed()`` not called yet.
        case idle
        /// The Allocate goes out from the next poll.
        case wanted
        case allocating
        case allocated
        /// Given up (no answer, an error, or the allocation was lost): no relayed candidate.
        case failed
        /// `close()` sent Refresh with lifetime 0, not answered yet.
        case releasing
        case released
    }

    /// A permission for one peer IP (RFC 8656 §9): `refreshMicros` is when to send CreatePermission
    /// again (after an error: when to try again).
    struct Permission {
        var installed = false
        var inFlight = false
        var refreshMicros: Int64?
    }

    /// A channel bound (or being bound) to one peer (RFC 8656 §12). A channel no longer needed is
    /// not refreshed (`bound` false) but keeps its number, which may not go to another peer.
    struct Channel {
        var number: UInt16
        var bound = false
        var inFlight = false
        var refreshMicros: Int64?
    }

    let server: STUNAddress
    let username: String
    let password: String
    var realm: String?
    var nonce: String?
    /// MD5(username:realm:password), once a 401 told the realm.
    var key: [UInt8]?
    var phase: Phase = .idle
    var relayed: ICECandidate?
    /// When to send the next Refresh; nil while one is in flight or when not allocated.
    var refreshMicros: Int64?
    /// When the allocation runs out unless refreshed.
    var expiresMicros: Int64 = .max
    var permissions: [String: Permission] = [:]
    var channels: [STUNAddress: Channel] = [:]
    var nextChannel: UInt16 = TURN.channelRange.lowerBound

    init(server: TURNServer, canonicalAddress: STUNAddress) {
        self.server = canonicalAddress
        username = server.username
        password = server.password
    }

    /// The peer a channel number is bound to.
    func peer(ofChannel number: UInt16) -> STUNAddress? {
        channels.first { $0.value.number == number }?.key
    }

    /// A channel number not in use (nil when all 4096 are).
    mutating func takeChannelNumber() -> UInt16? {
        let used = Set(channels.values.map(\.number))
        for _ in 0..<TURN.channelRange.count {
            let number = nextChannel
            nextChannel = number == TURN.channelRange.upperBound ? TURN.channelRange.lowerBound : number + 1
            if !used.contains(number) { return number }
        }
        return nil
    }
}

extension TURNServer {
    /// A `turn:` URI that cannot be used: its text and why.
    public struct URIError: Error, Sendable, Equatable, CustomStringConvertible {
        public var uri: String
        public var reason: String
        public var description: String { "TURN server \"\(uri)\": \(reason)" }
    }

    /// The host and port of a `turn:` URI (RFC 7065): `turn:HOST[:PORT][?transport=udp]`, HOST an
    /// IPv4 literal, a bracketed IPv6 literal or a DNS name (the driver resolves it: the agent
    /// takes IP literals only), PORT 3478 by default. `turns:` and `transport=tcp` are refused:
    /// only TURN over UDP is implemented.
    public static func parseURI(_ uri: String) throws(URIError) -> (host: String, port: UInt16) {
        func fail(_ reason: String) -> URIError { URIError(uri: uri, reason: reason) }
        let lower = uri.lowercased()
        if lower.hasPrefix("turns:") { throw fail("turns: (TURN over TLS) is not supported, only turn: over UDP") }
        guard lower.hasPrefix("turn:") else { throw fail("not a turn: URI") }
        var rest = Substring(uri.dropFirst(5))
        if let query = rest.firstIndex(of: "?") {
            let parameters = rest[rest.index(after: query)...].lowercased()
            rest = rest[..<query]
            for parameter in parameters.split(separator: "&") where parameter.hasPrefix("transport=") {
                guard parameter == "transport=udp" else { throw fail("only transport=udp is supported") }
            }
        }
        var host: Substring, portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw fail("unterminated IPv6 literal") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("junk after the IPv6 literal") }
                portText = after.dropFirst()
            }
        } else {
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw fail("an IPv6 host must be in brackets") }
            host = parts[0]
            portText = parts.count == 2 ? parts[1] : nil
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" }) else {
            throw fail("no usable host")
        }
        var port: UInt16 = 3478
        if let portText {
            guard let value = UInt16(portText), value > 0 else { throw fail("port \"\(portText)\" is not 1...65535") }
            port = value
        }
        return (String(host), port)
    }
}
