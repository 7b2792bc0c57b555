/// ICE input that cannot be used (a malformed candidate line): what was wrong.
public struct ICEError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { "ICE: \(reason)" }
}

/// `a=candidate` values (RFC 8839 §5.1):
///
///     foundation component transport priority address port "typ" type [raddr A rport P] *(name value)
extension ICECandidate {
    /// Parses an attribute value such as `1 1 udp 2130706431 10.99.0.1 5000 typ host`, with or
    /// without a leading `candidate:` (or `a=candidate:`). Extensions (`generation 0 ufrag x
    /// network-id 1 …`) are skipped except `tcptype`. TCP candidates and mDNS host names parse
    /// (the agent ignores them). IP literals are kept as written.
    public init(sdpValue: String) throws(ICEError) {
        var text = Substring(sdpValue)
        for prefix in ["a=", "candidate:"] where text.lowercased().hasPrefix(prefix) {
            text = text.dropFirst(prefix.count)
        }
        let fields = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard fields.count >= 8 else {
            throw ICEError("candidate has \(fields.count) fields, expected at least 8 (foundation component transport priority address port typ type)")
        }
        let foundation = fields[0]
        guard (1...32).contains(foundation.count), foundation.allSatisfy(Self.isICEChar) else {
            throw ICEError("candidate foundation \"\(foundation)\" is not 1 to 32 ice-chars")
        }
        guard Self.isDigits(fields[1], max: 3), let component = Int(fields[1]), (1...256).contains(component) else {
            throw ICEError("candidate component \"\(fields[1])\" is not a number from 1 to 256")
        }
        let transport = fields[2].lowercased()
        guard transport.allSatisfy(\.isASCII), transport.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
            throw ICEError("candidate transport \"\(fields[2])\" is not a token")
        }
        guard Self.isDigits(fields[3], max: 10), let priority = UInt32(fields[3]) else {
            throw ICEError("candidate priority \"\(fields[3])\" is not a number from 0 to 4294967295")
        }
        let address = try Self.parseAddress(fields[4], fields[5], what: "candidate")
        guard fields[6] == "typ" else {
            throw ICEError("candidate has \"\(fields[6])\" where \"typ\" belongs")
        }
        guard let type = ICECandidateType(rawValue: fields[7]) else {
            throw ICEError("candidate type \"\(fields[7])\" is not host, srflx, prflx or relay")
        }
        var relatedIP: String?, relatedPort: String?, tcpType: String?
        var index = 8
        while index < fields.count {
            guard index + 1 < fields.count else {
                throw ICEError("candidate extension \"\(fields[index])\" has no value")
            }
            let value = fields[index + 1]
            switch fields[index] {
            case "raddr": relatedIP = value
            case "rport": relatedPort = value
            case "tcptype": tcpType = value
            default: break
            }
            index += 2
        }
        var related: STUNAddress?
        if let relatedIP {
            related = try Self.parseAddress(relatedIP, relatedPort ?? "0", what: "candidate raddr/rport")
        }
        self.init(foundation: foundation, component: component, transport: transport, priority: priority,
                  address: address, type: type, related: related, tcpType: tcpType)
    }

    /// The attribute value, without `candidate:`: `1 1 udp 2130706431 10.99.0.1 5000 typ host`,
    /// then `raddr`/`rport` and `tcptype` when present.
    public var sdpValue: String {
        var out = "\(foundation) \(component) \(transport) \(priority) \(address.ip) \(address.port) typ \(type.rawValue)"
        if let related { out += " raddr \(related.ip) rport \(related.port)" }
        if let tcpType { out += " tcptype \(tcpType)" }
        return out
    }

    /// `candidate:` + ``sdpValue``: the form of `RTCIceCandidate.candidate` in trickle signalling.
    public var sdpAttribute: String { "candidate:" + sdpValue }

    /// 1 to `max` ASCII digits.
    static func isDigits(_ text: String, max: Int) -> Bool {
        (1...max).contains(text.count) && text.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// ice-char = ALPHA / DIGIT / "+" / "/" (RFC 8839 §5.1).
    static func isICEChar(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "+" || c == "/")
    }

    /// An IP literal or a host name, and a port. Text that looks like an IP literal must be one.
    static func parseAddress(_ host: String, _ port: String, what: String) throws(ICEError) -> STUNAddress {
        guard !host.isEmpty, host.allSatisfy(\.isASCII) else {
            throw ICEError("\(what) address \"\(host)\" is not an IP address or a host name")
        }
        let looksIPv4 = host.allSatisfy { $0.isNumber || $0 == "." }
        if host.contains(":") || looksIPv4 {
            guard STUNAddress(ip: host, port: 0).ipBytes != nil else {
                throw ICEError("\(what) address \"\(host)\" is not a valid IP address")
            }
        } else if !host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }) {
            throw ICEError("\(what) address \"\(host)\" is not an IP address or a host name")
        }
        guard isDigits(port, max: 5), let number = UInt16(port) else {
            throw ICEError("\(what) port \"\(port)\" is not a number from 0 to 65535")
        }
        return STUNAddress(ip: host, port: number)
    }
}
