import COpenSSL

/// The two checksums of a STUN message: HMAC-SHA1 (MESSAGE-INTEGRITY, RFC 8489 §14.5) and CRC-32
/// (FINGERPRINT, §14.7).
enum STUNCrypto {
    /// HMAC-SHA1 of `data` under `key` (OpenSSL's `HMAC`; an empty key is allowed).
    static func hmacSHA1(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 20)
        var size: UInt32 = 0
        let keyBytes = key.isEmpty ? [0] : key
        let result = keyBytes.withUnsafeBufferPointer { k in
            data.withUnsafeBufferPointer { d in
                out.withUnsafeMutableBufferPointer { o in
                    HMAC(EVP_sha1(), k.baseAddress, Int32(key.count), d.baseAddress, d.count, o.baseAddress, &size)
                }
            }
        }
        precondition(result != nil && size == 20, "OpenSSL HMAC-SHA1 failed")
        return out
    }

    /// Compares without an early exit, so the time taken does not tell how many leading bytes matched.
    static func constantTimeEqual(_ a: ArraySlice<UInt8>, _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    /// CRC-32 (ISO 3309 / ITU-T V.42, the one of zlib and Ethernet) of `bytes[range]`.
    static func crc32(_ bytes: [UInt8], _ range: Range<Int>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for i in range {
            crc = crcTable[Int((crc ^ UInt32(bytes[i])) & 0xFF)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }

    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
}
