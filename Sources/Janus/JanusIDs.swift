import JSONText

/// A Janus id: videoroom rooms and participants (feeds) are numbers, unless the plugin runs
/// with `string_ids = true`. `Kind` keeps room ids and feed ids apart.
public enum JanusID<Kind>: Sendable, Hashable, CustomStringConvertible {
    case number(UInt64)
    case string(String)

    /// All ASCII digits that fit in 64 bits → a number; anything else (including digits that
    /// overflow, or an empty text) → a string.
    public init(_ text: String) {
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
           let value = UInt64(text) {
            self = .number(value)
        } else {
            self = .string(text)
        }
    }

    /// From Janus JSON: a non-negative 64-bit integer or a string; nil otherwise.
    public init?(json: JSONValue) {
        if let value = json.uint64 { self = .number(value) } else if let text = json.string { self = .string(text) } else { return nil }
    }

    /// As Janus expects it in a request.
    public var json: JSONValue {
        switch self {
        case .number(let value): .int(value)
        case .string(let text): .string(text)
        }
    }

    public var description: String {
        switch self {
        case .number(let value): String(value)
        case .string(let text): text
        }
    }
}

/// Marks a ``JanusID`` as a room's.
public enum JanusRoomKind {}
/// Marks a ``JanusID`` as a participant's (feed's).
public enum JanusFeedKind {}

/// A videoroom room id.
public typealias JanusRoomID = JanusID<JanusRoomKind>
/// A videoroom participant (feed) id.
public typealias JanusFeedID = JanusID<JanusFeedKind>
