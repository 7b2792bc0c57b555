/// Candidate priorities and foundations (RFC 8445 §5.1.2, §5.1.1.3), and a few facts about
/// candidates the agent needs.
extension ICECandidate {
    /// The type preference of RFC 8445 §5.1.2.2's recommendation: host 126, peer-reflexive 110,
    /// server-reflexive 100, relayed 0.
    public static func typePreference(_ type: ICECandidateType) -> UInt32 {
        switch type {
        case .host: 126
        case .peerReflexive: 110
        case .serverReflexive: 100
        case .relayed: 0
        }
    }

    /// priority = 2^24 × type preference + 2^8 × local preference + (256 − component)
    /// (RFC 8445 §5.1.2.1). `localPreference` is clamped to 0...65535, `component` to 1...256.
    public static func priority(type: ICECandidateType, localPreference: UInt32 = 65535, component: Int = 1) -> UInt32 {
        typePreference(type) << 24 | min(localPreference, 65535) << 8 | UInt32(256 - min(max(component, 1), 256))
    }

    /// A foundation (RFC 8445 §5.1.1.3): equal for candidates of the same type, base IP, STUN or
    /// TURN server and transport, different otherwise (a CRC-32 of those, in decimal, as browsers
    /// write them).
    public static func foundation(type: ICECandidateType, baseIP: String, server: String? = nil,
                                  transport: String = "udp") -> String {
        let key = Array("\(type.rawValue)|\(baseIP)|\(server ?? "")|\(transport.lowercased())".utf8)
        return String(STUNCrypto.crc32(key, 0..<key.count))
    }

    /// The local preference this candidate's priority was built with.
    public var localPreference: UInt32 { (priority >> 8) & 0xFFFF }

    /// Whether the address is IPv6 (the agent pairs only candidates of the same family).
    var isIPv6: Bool { address.ip.contains(":") }

    /// The address with its IP in canonical text (RFC 5952 for IPv6), nil when it is not an IP
    /// literal (an mDNS name).
    /// The address in canonical text, or nil when no check may go to it: port 0, an unspecified,
    /// multicast or broadcast address (a check there would reach hosts that never offered it).
    static func canonical(_ address: STUNAddress) -> STUNAddress? {
        guard address.port != 0, let bytes = address.ipBytes, let ip = STUNAddress.format(ipBytes: bytes) else { return nil }
        if bytes.count == 4 {
            guard bytes[0] != 0, bytes[0] < 224 else { return nil }  // 0/8, multicast 224/4, 240/4 and broadcast
        } else {
            guard bytes[0] != 0xFF, bytes.contains(where: { $0 != 0 }) else { return nil }  // multicast ff00::/8, ::
        }
        return STUNAddress(ip: ip, port: address.port)
    }
}
