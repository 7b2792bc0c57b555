import JSONText

/// A videoroom room id: Janus rooms are numbers unless the plugin runs with `string_ids = true`.
public enum JanusRoomID: Sendable, Hashable, CustomStringConvertible {
    case number(UInt64)
    case string(String)

    /// All ASCII digits that fit in 64 bits → a number; anything else (including "007" style text
    /// that overflows, or an empty text) → a string.
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

/// A videoroom participant (feed) id: numbers, or strings with `string_ids = true`.
public enum JanusFeedID: Sendable, Hashable, CustomStringConvertible {
    case number(UInt64)
    case string(String)

    /// All ASCII digits that fit in 64 bits → a number; anything else → a string.
    public init(_ text: String) {
        switch JanusRoomID(text) {
        case .number(let value): self = .number(value)
        case .string(let text): self = .string(text)
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
