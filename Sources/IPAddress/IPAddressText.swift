/// Module `IPAddress`: IP addresses as text and as bytes.
/// Text forms of IP addresses (dotted IPv4, RFC 5952 IPv6) and back.
public enum IPAddressText {
    public static func ipv4(_ b: some Collection<UInt8>) -> String {
        b.map { String($0) }.joined(separator: ".")
    }

    /// RFC 5952: lower-case hex, leading zeros dropped, longest run (>= 2) of zero groups as "::".
    public static func ipv6(_ bytes: some Collection<UInt8>) -> String {
        let b = Array(bytes)
        guard b.count == 16 else { return "" }
        var g = [UInt16](repeating: 0, count: 8)
        for i in 0..<8 { g[i] = UInt16(b[2 * i]) << 8 | UInt16(b[2 * i + 1]) }
        // IPv4-mapped ::ffff:a.b.c.d
        if g[0...4].allSatisfy({ $0 == 0 }) && g[5] == 0xFFFF {
            return "::ffff:" + ipv4(b[12..<16])
        }
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if g[i] == 0 {
                var j = i
                while j < 8 && g[j] == 0 { j += 1 }
                if j - i > bestLen && j - i >= 2 { bestStart = i; bestLen = j - i }
                i = j
            } else { i += 1 }
        }
        func h(_ v: UInt16) -> String { String(v, radix: 16) }
        if bestStart < 0 { return g.map(h).joined(separator: ":") }
        let left = g[0..<bestStart].map(h).joined(separator: ":")
        let right = g[(bestStart + bestLen)..<8].map(h).joined(separator: ":")
        return left + "::" + right
    }

    /// Parses dotted IPv4 text into 4 bytes.
    public static func parseIPv4(_ s: String) -> [UInt8]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), let v = UInt8(p) else { return nil }
            out.append(v)
        }
        return out
    }

    /// Parses IPv6 text (with "::" and an optional trailing dotted IPv4) into 16 bytes.
    public static func parseIPv6(_ s: String) -> [UInt8]? {
        var text = Substring(s)
        if let pct = text.firstIndex(of: "%") { text = text[..<pct] }  // zone id
        guard text.contains(":") else { return nil }
        func groups(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let items = part.split(separator: ":", omittingEmptySubsequences: false)
            for (k, it) in items.enumerated() {
                if k == items.count - 1, it.contains(".") {
                    guard let v4 = parseIPv4(String(it)) else { return nil }
                    out.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                    out.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                    continue
                }
                guard !it.isEmpty, it.count <= 4, let v = UInt16(it, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        var all: [UInt16]
        if let r = text.firstRange(of: "::") {
            guard let l = groups(text[..<r.lowerBound]), let rr = groups(text[r.upperBound...]),
                  l.count + rr.count <= 7 else { return nil }
            all = l + [UInt16](repeating: 0, count: 8 - l.count - rr.count) + rr
        } else {
            guard let g = groups(text), g.count == 8 else { return nil }
            all = g
        }
        var b: [UInt8] = []
        for v in all { b.append(UInt8(v >> 8)); b.append(UInt8(v & 0xFF)) }
        return b
    }
}
