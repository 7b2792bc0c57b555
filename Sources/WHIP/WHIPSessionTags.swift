/// The current ETag of each session that has one, for `If-Match` checks on PATCH.
///
/// Entries go on `201 Created`, change on ICE restart, and leave on DELETE, on a 404 from the
/// backend, or when the backend reports the end through `WHIPRequestHandler.sessionEnded`.
actor WHIPSessionTags {
    struct Key: Hashable {
        var room: String
        var session: String
    }

    private var tags: [Key: String] = [:]

    func tag(room: String, session: String) -> String? {
        tags[Key(room: room, session: session)]
    }

    func set(_ tag: String, room: String, session: String) {
        tags[Key(room: room, session: session)] = tag
    }

    func remove(room: String, session: String) {
        tags[Key(room: room, session: session)] = nil
    }

    /// `abc` → `"abc"`; quoted and weak (`W/"…"`) tags are kept as they are.
    static func quoted(_ tag: String) -> String {
        tag.hasPrefix("\"") || tag.hasPrefix("W/\"") ? tag : "\"\(tag)\""
    }

    /// RFC 9110 §13.1.1: `*` matches any current tag; otherwise one of the listed tags must equal it
    /// (strong comparison: weak tags never match).
    static func ifMatch(_ header: String, matches current: String) -> Bool {
        let candidates = header.split(separator: ",").map { $0.trimmingSpaces() }
        if candidates.contains("*") { return true }
        guard !current.hasPrefix("W/") else { return false }
        return candidates.contains { $0 == current }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (HTTP optional whitespace).
    func trimmingSpaces() -> Substring {
        let text = Substring(self)
        let start = text.firstIndex { $0 != " " && $0 != "\t" } ?? text.endIndex
        let end = text.lastIndex { $0 != " " && $0 != "\t" }.map { text.index(after: $0) } ?? start
        return text[start..<end]
    }
}
