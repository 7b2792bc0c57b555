import Foundation
import JSONText
import Logging

/// `09:00:00.123 warning: message key=value key2="a b"`: local time of day, level, message and the
/// metadata sorted by key. Control characters (a newline, an escape sequence from a peer's display
/// name) are shown escaped, so a record is always one line and never drives the terminal; values
/// with spaces, quotes, `=` or backslashes are quoted as JSON strings.
public enum HumanLogFormat: LogLineFormat {
    public static func line(_ record: LogRecord) -> String {
        var line = LogTime.localClock(record.date) + " " + record.level.rawValue + ": " + escapingControls(record.message)
        for (key, value) in record.metadata.sorted(by: { $0.key < $1.key }) {
            line += " " + escapingControls(key) + "=" + text(value)
        }
        return line
    }

    private static func text(_ value: Logger.MetadataValue) -> String {
        let plain = value.description
        let needsQuotes = plain.isEmpty || plain.unicodeScalars.contains { " \"=\\".unicodeScalars.contains($0) || isControl($0) }
        return needsQuotes ? JSONValue.quoted(plain) : plain
    }

    private static func escapingControls(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case _ where isControl(scalar):
                let hex = String(scalar.value, radix: 16)
                escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// C0 and C1 controls and DEL, but not the tab.
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar != "\t" && (scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value))
    }
}

/// One JSON object a line: `ts` (RFC 3339, UTC, milliseconds), `level`, `msg`, `label`, then each
/// metadata entry as a field sorted by key (a key that would clash with those four gets a `_`
/// in front). Integers and booleans given as metadata values stay numbers and booleans; strings
/// are escaped by `JSONText`'s writer, so every line parses whatever the message holds.
public enum JSONLogFormat: LogLineFormat {
    /// The fields every line has.
    public static let fixedKeys: Set<String> = ["ts", "level", "msg", "label"]

    public static func line(_ record: LogRecord) -> String {
        var line = "{\"ts\":\"" + LogTime.rfc3339(record.date) + "\",\"level\":\"" + record.level.rawValue
            + "\",\"msg\":" + JSONValue.quoted(record.message) + ",\"label\":" + JSONValue.quoted(record.label)
        for (key, value) in record.metadata.sorted(by: { $0.key < $1.key }) {
            line += "," + JSONValue.quoted(fixedKeys.contains(key) ? "_" + key : key) + ":" + json(value).text
        }
        return line + "}"
    }

    static func json(_ value: Logger.MetadataValue) -> JSONValue {
        switch value {
        case .string(let text): return .string(text)
        case .stringConvertible(let convertible):
            switch convertible {
            case let flag as Bool: return .bool(flag)
            case let integer as any BinaryInteger: return .number(integer.description)
            case let real as any BinaryFloatingPoint where real.isFinite: return .number(convertible.description)
            default: return .string(convertible.description)
            }
        case .array(let values): return .array(values.map(json))
        case .dictionary(let members): return .object(members.mapValues(json))
        }
    }
}

/// Timestamps of log lines.
enum LogTime {
    /// `2026-11-30T09:00:00.123Z`.
    static func rfc3339(_ date: Date) -> String {
        let (t, millis) = parts(date, utc: true)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                      t.tm_hour, t.tm_min, t.tm_sec, millis)
    }

    /// `09:00:00.123`, local time.
    static func localClock(_ date: Date) -> String {
        let (t, millis) = parts(date, utc: false)
        return String(format: "%02d:%02d:%02d.%03d", t.tm_hour, t.tm_min, t.tm_sec, millis)
    }

    /// The calendar fields and the milliseconds of `date` (to the nearest millisecond).
    private static func parts(_ date: Date, utc: Bool) -> (tm, Int32) {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var clock = time_t(millis.floorDivided(by: 1000))
        var fields = tm()
        if utc { gmtime_r(&clock, &fields) } else { localtime_r(&clock, &fields) }
        return (fields, Int32(millis - millis.floorDivided(by: 1000) * 1000))
    }
}

extension Int64 {
    /// The quotient rounded towards minus infinity (times before 1970 too).
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let (quotient, remainder) = quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? quotient - 1 : quotient
    }
}
