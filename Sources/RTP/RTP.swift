/// Module RTP: RTP and RTCP wire formats (RFC 3550, 4585, 5104, 8285, REMB), RFC 5761 demultiplexing,
/// sequence-number and timestamp unwrapping, NTP time, RFC 6464 audio level.
///
/// Sans-IO: every parser takes `[UInt8]` and uses index arithmetic; nothing here touches sockets or clocks.

/// A malformed RTP or RTCP packet: where in the input parsing stopped and why.
public struct RTPError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Byte offset in the input where the problem was found.
    public var offset: Int
    /// Human-readable reason.
    public var reason: String

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "RTP error at offset \(offset): \(reason)" }
}

/// RFC 5761 §4 demultiplexing of RTP and RTCP on one port: RTCP packet types 192...223 appear in
/// the second byte; with the marker bit masked they are 64...95, payload types RTP must not use.
public func isRTCP(_ bytes: [UInt8]) -> Bool {
    guard bytes.count >= 2 else { return false }
    let pt = bytes[bytes.startIndex + 1] & 0x7F
    return pt >= 64 && pt <= 95
}

/// RFC 6464 client-to-mixer audio level: one byte, V flag (voice activity) and level in -dBov (0 loudest, 127 silence).
/// Returns nil when `extensionData` is empty.
public func audioLevel(extensionData: [UInt8]) -> (voice: Bool, level: UInt8)? {
    guard let first = extensionData.first else { return nil }
    return (voice: first & 0x80 != 0, level: first & 0x7F)
}

// MARK: - Byte helpers (internal)

@inline(__always)
func readU16(_ b: [UInt8], _ i: Int) -> UInt16 {
    UInt16(b[i]) << 8 | UInt16(b[i + 1])
}

@inline(__always)
func readU24(_ b: [UInt8], _ i: Int) -> UInt32 {
    UInt32(b[i]) << 16 | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2])
}

@inline(__always)
func readU32(_ b: [UInt8], _ i: Int) -> UInt32 {
    UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
}

@inline(__always)
func readU64(_ b: [UInt8], _ i: Int) -> UInt64 {
    UInt64(readU32(b, i)) << 32 | UInt64(readU32(b, i + 4))
}

extension Array where Element == UInt8 {
    @inline(__always) mutating func appendU16(_ v: UInt16) {
        append(UInt8(v >> 8)); append(UInt8(truncatingIfNeeded: v))
    }
    @inline(__always) mutating func appendU24(_ v: UInt32) {
        append(UInt8(truncatingIfNeeded: v >> 16)); append(UInt8(truncatingIfNeeded: v >> 8)); append(UInt8(truncatingIfNeeded: v))
    }
    @inline(__always) mutating func appendU32(_ v: UInt32) {
        append(UInt8(v >> 24)); append(UInt8(truncatingIfNeeded: v >> 16))
        append(UInt8(truncatingIfNeeded: v >> 8)); append(UInt8(truncatingIfNeeded: v))
    }
    @inline(__always) mutating func appendU64(_ v: UInt64) {
        appendU32(UInt32(v >> 32)); appendU32(UInt32(truncatingIfNeeded: v))
    }
}
