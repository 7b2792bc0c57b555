/// An `application/trickle-ice-sdpfrag` body (RFC 8840), as sent in WHIP PATCH requests for trickle
/// ICE and ICE restarts (RFC 9725 §4.3).
///
/// Understood lines: `a=ice-ufrag`, `a=ice-pwd`, `a=group:BUNDLE`, `m=` (opens a media section),
/// `a=mid`, `a=candidate`, `a=end-of-candidates`. Other well-formed `x=` lines and attributes are
/// ignored. A candidate belongs to the `a=mid` of its media section, wherever that line sits in
/// the section; candidates before any `m=` line have no mid.
public struct WHIPFragment: Sendable {
    /// `a=ice-ufrag` (the same in every section, or a `ParseError`).
    public var ufrag: String?
    /// `a=ice-pwd` (the same in every section, or a `ParseError`).
    public var pwd: String?
    /// The mids of `a=group:BUNDLE`, empty when absent.
    public var bundleMids: [String]
    /// `a=candidate` values without the `candidate:` prefix, with the mid of their media section.
    public var candidates: [(mid: String?, value: String)]
    /// Whether an `a=end-of-candidates` line was present.
    public var endOfCandidates: Bool

    public init(ufrag: String? = nil, pwd: String? = nil, bundleMids: [String] = [],
                candidates: [(mid: String?, value: String)] = [], endOfCandidates: Bool = false) {
        self.ufrag = ufrag
        self.pwd = pwd
        self.bundleMids = bundleMids
        self.candidates = candidates
        self.endOfCandidates = endOfCandidates
    }

    /// Whether this fragment asks for an ICE restart: it carries an `a=ice-ufrag` different from the
    /// session's current one (RFC 8840 §4.4).
    public func isICERestart(currentUfrag: String) -> Bool {
        guard let ufrag else { return false }
        return ufrag != currentUfrag
    }

    /// A line the parser refused, with its 1-based line number.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var reason: String

        public init(line: Int, reason: String) {
            self.line = line
            self.reason = reason
        }

        public var description: String { "line \(line): \(reason)" }
    }

    /// Parses a fragment body. Lines end with CRLF or LF; empty lines are skipped.
    /// - Throws: `ParseError` naming the first malformed line.
    public init(parsing text: String) throws(ParseError) {
        var parser = FragmentParser()
        var number = 0
        // "\r\n" is a single Character in Swift, so both line ends are separators.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            number += 1
            if line.isEmpty { continue }
            try parser.consume(line, number: number)
        }
        self = parser.finish()
    }
}

/// The line-by-line state of `WHIPFragment.init(parsing:)`.
private struct FragmentParser {
    var ufrag: String?
    var pwd: String?
    var bundleMids: [String] = []
    var endOfCandidates = false
    /// Candidates with the index of their media section (nil before the first `m=`).
    var candidates: [(section: Int?, value: String)] = []
    /// The mid of each media section seen so far.
    var sectionMids: [String?] = []

    mutating func consume(_ line: Substring, number: Int) throws(WHIPFragment.ParseError) {
        func fail(_ reason: String) -> WHIPFragment.ParseError { .init(line: number, reason: reason) }
        let bytes = line.utf8
        guard bytes.count >= 2, let type = bytes.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(type),
              bytes[bytes.index(after: bytes.startIndex)] == UInt8(ascii: "=") else {
            throw fail("expected '<letter>=<value>', got '\(line.prefix(40))'")
        }
        let value = line.dropFirst(2)
        switch type {
        case UInt8(ascii: "m"):
            guard value.split(separator: " ").count >= 3 else { throw fail("malformed m= line") }
            sectionMids.append(nil)
        case UInt8(ascii: "a"):
            try attribute(value, fail: fail)
        default:
            break
        }
    }

    private mutating func attribute(_ attr: Substring,
                                    fail: (String) -> WHIPFragment.ParseError) throws(WHIPFragment.ParseError) {
        let name: Substring
        let value: Substring?
        if let colon = attr.firstIndex(of: ":") {
            name = attr[..<colon]
            value = attr[attr.index(after: colon)...]
        } else {
            name = attr
            value = nil
        }
        switch name {
        case "ice-ufrag":
            ufrag = try credential(value, current: ufrag, what: "ice-ufrag", fail: fail)
        case "ice-pwd":
            pwd = try credential(value, current: pwd, what: "ice-pwd", fail: fail)
        case "group":
            let tokens = (value ?? "").split(separator: " ")
            guard let semantics = tokens.first else { throw fail("empty a=group") }
            if semantics == "BUNDLE" { bundleMids = tokens.dropFirst().map(String.init) }
        case "mid":
            guard let value, !value.isEmpty, !value.contains(" ") else { throw fail("malformed a=mid") }
            guard !sectionMids.isEmpty else { throw fail("a=mid before any m= line") }
            guard sectionMids[sectionMids.count - 1] == nil else { throw fail("second a=mid in one media section") }
            sectionMids[sectionMids.count - 1] = String(value)
        case "candidate":
            guard let value else { throw fail("a=candidate without a value") }
            try checkCandidate(value, fail: fail)
            candidates.append((sectionMids.isEmpty ? nil : sectionMids.count - 1, String(value)))
        case "end-of-candidates":
            guard value == nil else { throw fail("a=end-of-candidates takes no value") }
            endOfCandidates = true
        default:
            break
        }
    }

    private func credential(_ value: Substring?, current: String?, what: String,
                            fail: (String) -> WHIPFragment.ParseError) throws(WHIPFragment.ParseError) -> String {
        guard let value, !value.isEmpty, !value.contains(" ") else { throw fail("malformed a=\(what)") }
        if let current, current != value { throw fail("conflicting a=\(what) values") }
        return String(value)
    }

    /// RFC 8839 §5.1: `foundation component transport priority address port typ type ...`.
    private func checkCandidate(_ value: Substring,
                                fail: (String) -> WHIPFragment.ParseError) throws(WHIPFragment.ParseError) {
        let fields = value.split(separator: " ")
        guard fields.count >= 8, fields[6] == "typ" else {
            throw fail("malformed a=candidate (expected 'foundation component transport priority address port typ type')")
        }
        guard UInt8(fields[1]) != nil, UInt32(fields[3]) != nil, UInt16(fields[5]) != nil else {
            throw fail("malformed a=candidate (component, priority or port is not a number)")
        }
    }

    func finish() -> WHIPFragment {
        WHIPFragment(ufrag: ufrag, pwd: pwd, bundleMids: bundleMids,
                     candidates: candidates.map { (mid: $0.section.flatMap { sectionMids[$0] }, value: $0.value) },
                     endOfCandidates: endOfCandidates)
    }
}
