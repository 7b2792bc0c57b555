/// Module `ICE`: STUN messages (RFC 8489) and the ICE agent (RFC 8445), sans-IO.

import IPAddress

/// A transport address carried in (XOR-)MAPPED-ADDRESS: a textual IP and a port.
///
/// Parsed addresses are written canonically: IPv4 dotted decimal ("10.99.0.2"), IPv6 in the
/// RFC 5952 form (lowercase, longest run of two or more zero groups as "::", "fd00::1").
public struct STUNAddress: Sendable, Hashable, CustomStringConvertible {
    public var ip: String
    public var port: UInt16

    public init(ip: String, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    /// The address bytes: 4 for IPv4, 16 for IPv6; nil when `ip` is neither.
    public var ipBytes: [UInt8]? { IPAddressText.parseIPv4(ip) ?? IPAddressText.parseIPv6(ip) }

    /// "10.99.0.2:5000", "[fd00::1]:5000".
    public var description: String { ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)" }

    /// The textual form of 4 or 16 address bytes (nil for any other count).
    public static func format(ipBytes b: [UInt8]) -> String? {
        switch b.count {
        case 4: return IPAddressText.ipv4(b)
        case 16: return IPAddressText.ipv6(b)
        default: return nil
        }
    }
}
