import COpenSSL

/// The two checksums of a STUN message: HMAC-SHA1 (MESSAGE-INTEGRITY, RFC 8489 §14.5) and CRC-32
/// (FINGERPRINT, §14.7).
enum STUNCrypto {
    /// SHA-1 of `data` through OpenSSL (`EVP_Digest` with the built-in SHA-1, no provider fetch).
    static func sha1(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 20)
        var size: UInt32 = 0
        let ok = data.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                EVP_Digest(input.baseAddress, input.count, output.baseAddress, &size, EVP_sha1(), nil)
            }
        }
        precondition(ok == 1 && size == 20, "OpenSSL SHA-1 failed")
        return out
    }

    /// HMAC-SHA1 (RFC 2104) of `data` under `key`; keys longer than the 64-byte block are hashed
    /// first, an empty key is allowed.
    static func hmacSHA1(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var block = key.count > 64 ? sha1(key) : key
        block += [UInt8](repeating: 0, count: 64 - block.count)
        let inner = sha1(block.map { $0 ^ 0x36 } + data)
        return sha1(block.map { $0 ^ 0x5C } + inner)
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
