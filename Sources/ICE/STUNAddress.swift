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
    public var ipBytes: [UInt8]? { Self.parseIPv4(ip[...]) ?? Self.parseIPv6(ip[...]) }

    /// "10.99.0.2:5000", "[fd00::1]:5000".
    public var description: String { ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)" }

    /// The textual form of 4 or 16 address bytes (nil for any other count).
    public static func format(ipBytes b: [UInt8]) -> String? {
        if b.count == 4 { return "\(b[0]).\(b[1]).\(b[2]).\(b[3])" }
        guard b.count == 16 else { return nil }
        let groups = (0..<8).map { UInt16(b[2 * $0]) << 8 | UInt16(b[2 * $0 + 1]) }
        // Longest run of zero groups (the first on a tie), compressed only when two or more long.
        var bestStart = -1, bestLength = 0, i = 0
        while i < 8 {
            guard groups[i] == 0 else { i += 1; continue }
            var j = i
            while j < 8 && groups[j] == 0 { j += 1 }
            if j - i > bestLength { bestStart = i; bestLength = j - i }
            i = j
        }
        func hex(_ range: Range<Int>) -> String {
            range.map { String(groups[$0], radix: 16) }.joined(separator: ":")
        }
        guard bestLength >= 2 else { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }

    static func parseIPv4(_ s: Substring) -> [UInt8]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = UInt8(part) else { return nil }
            out.append(value)
        }
        return out
    }

    static func parseIPv6(_ s: Substring) -> [UInt8]? {
        /// Colon-separated hex groups; the last may be a dotted IPv4 address when `allowIPv4` is set.
        func groups(_ text: Substring, allowIPv4: Bool) -> [UInt16]? {
            if text.isEmpty { return [] }
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            var out: [UInt16] = []
            for (index, part) in parts.enumerated() {
                if allowIPv4 && index == parts.count - 1 && part.contains(".") {
                    guard let v4 = parseIPv4(part) else { return nil }
                    out += [UInt16(v4[0]) << 8 | UInt16(v4[1]), UInt16(v4[2]) << 8 | UInt16(v4[3])]
                } else {
                    guard (1...4).contains(part.count), part.allSatisfy(\.isHexDigit),
                          let value = UInt16(part, radix: 16) else { return nil }
                    out.append(value)
                }
            }
            return out
        }
        var words: [UInt16]
        if let gap = s.firstRange(of: "::") {
            let tailText = s[gap.upperBound...]
            guard !tailText.contains("::"),
                  let head = groups(s[..<gap.lowerBound], allowIPv4: false),
                  let tail = groups(tailText, allowIPv4: true),
                  head.count + tail.count <= 7 else { return nil }
            words = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let all = groups(s, allowIPv4: true), all.count == 8 else { return nil }
            words = all
        }
        return words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }
}
