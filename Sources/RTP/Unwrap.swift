/// Extends 16-bit RTP sequence numbers to 64 bits. Each value is placed nearest to the previous one
/// (within ±2^15), so reordering around the wrap unwraps correctly. The first value maps to itself.
public struct SequenceUnwrapper: Sendable {
    private var last: Int64?

    public init() {}

    public mutating func unwrap(_ seq: UInt16) -> Int64 {
        guard let last else {
            self.last = Int64(seq)
            return Int64(seq)
        }
        let delta = Int16(bitPattern: seq &- UInt16(truncatingIfNeeded: last))
        let value = last + Int64(delta)
        self.last = value
        return value
    }
}

/// Extends 32-bit RTP timestamps to 64 bits, nearest to the previous value (within ±2^31).
public struct TimestampUnwrapper: Sendable {
    private var last: Int64?

    public init() {}

    public mutating func unwrap(_ ts: UInt32) -> Int64 {
        guard let last else {
            self.last = Int64(ts)
            return Int64(ts)
        }
        let delta = Int32(bitPattern: ts &- UInt32(truncatingIfNeeded: last))
        let value = last + Int64(delta)
        self.last = value
        return value
    }
}

/// A 64-bit NTP timestamp (RFC 5905: seconds since 1900 in the high 32 bits, fraction in the low 32)
/// and its conversion to and from Unix time in microseconds.
public struct NTPTime: Sendable, Equatable, Hashable {
    /// Seconds from 1900-01-01 to 1970-01-01.
    public static let unixEpochOffsetSeconds: Int64 = 2_208_988_800

    public var raw: UInt64

    public init(raw: UInt64) { self.raw = raw }

    /// Rounds to the nearest NTP fraction. Times before 1900 or after 2036 wrap (era 0 only).
    public init(unixMicros: Int64) {
        let secs = unixMicros.quotientFloorDiv(1_000_000)
        let micros = unixMicros - secs * 1_000_000
        let ntpSecs = UInt64(truncatingIfNeeded: secs + NTPTime.unixEpochOffsetSeconds) & 0xFFFF_FFFF
        let frac = (UInt64(micros) << 32 + 500_000) / 1_000_000
        raw = (ntpSecs << 32) &+ frac
    }

    /// Microseconds since the Unix epoch (era 0), rounded to the nearest microsecond.
    public var unixMicros: Int64 {
        let secs = Int64(raw >> 32) - NTPTime.unixEpochOffsetSeconds
        let frac = raw & 0xFFFF_FFFF
        let micros = Int64((frac * 1_000_000 + (1 << 31)) >> 32)
        return secs * 1_000_000 + micros
    }

    /// The middle 32 bits, as used in LSR/DLSR of reception reports.
    public var middle32: UInt32 { UInt32(truncatingIfNeeded: raw >> 16) }

    public static func unixMicros(fromNTP raw: UInt64) -> Int64 { NTPTime(raw: raw).unixMicros }
    public static func ntp(fromUnixMicros micros: Int64) -> UInt64 { NTPTime(unixMicros: micros).raw }
}

extension Int64 {
    fileprivate func quotientFloorDiv(_ d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}
