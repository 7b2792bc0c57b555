/// Module `JSONText`: JSON values, a bounded parser that names the byte of an error, and a writer —
/// for Janus messages and `.mjr` info headers alike.

/// A JSON value.
///
/// Numbers keep their literal text, so 64-bit ids survive exactly and a number too large for any
/// integer type is still a value (whose integer accessors return nil) rather than a parse failure.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's literal text, as validated by the parser (or written by ``int(_:)``).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// A number from an integer.
    public static func int<T: BinaryInteger>(_ value: T) -> JSONValue { .number(String(value)) }

    /// The member `key` of an object; nil for a missing member or a non-object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The text of a string.
    public var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// A boolean.
    public var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// A non-negative integer literal (no fraction, no exponent) that fits in 64 bits.
    public var uint64: UInt64? {
        if case .number(let text) = self { return UInt64(text) }
        return nil
    }

    /// An integer literal that fits in `Int`.
    public var int: Int? {
        if case .number(let text) = self { return Int(text) }
        return nil
    }

    /// Any number, as a double (infinite for a literal out of range).
    public var double: Double? {
        if case .number(let text) = self { return Double(text) }
        return nil
    }

    /// The elements of an array.
    public var array: [JSONValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// The members of an object.
    public var object: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// A short name of the value's kind, for diagnostics.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}
