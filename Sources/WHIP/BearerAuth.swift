/// `Authorization: Bearer <token>` checking (RFC 6750 §2.1).
enum BearerAuth {
    /// Whether `authorization` (the header value, if any) carries `token`. The token comparison
    /// takes the same time wherever the first difference is.
    static func accepts(_ authorization: String?, token: String) -> Bool {
        guard let authorization,
              let space = authorization.firstIndex(of: " "),
              authorization[..<space].lowercased() == "bearer" else { return false }
        let presented = authorization[authorization.index(after: space)...].drop { $0 == " " }
        return constantTimeEqual(Array(presented.utf8), Array(token.utf8))
    }

    /// Compares every byte of `expected` whatever `presented` holds; only the length of `expected` shows.
    static func constantTimeEqual(_ presented: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference: UInt8 = presented.count == expected.count ? 0 : 1
        for index in expected.indices {
            let byte = index < presented.count ? presented[index] : ~expected[index]
            difference |= byte ^ expected[index]
        }
        return difference == 0
    }
}
