import COpenSSL

/// Which records of a datagram a connected endpoint lets through to OpenSSL (RFC 6347 §4.1.2.7:
/// invalid records are silently discarded). OpenSSL drops a record whose MAC fails, but treats some
/// malformed ones as fatal: with a CBC suite, an epoch-1 record shorter than the MAC ("length too
/// short") ends the association, so one forged 15-byte datagram from the peer's address would end a
/// recording (CBC suites are no longer offered by default, and this filter is the second guard).
/// Once the handshake is done, a record passes only if:
/// - its header is whole and its declared length fits the datagram;
/// - its version is DTLS 1.0 or 1.2 and its type is change_cipher_spec, alert, handshake or
///   application_data;
/// - at epoch 0, it is a handshake or change_cipher_spec record (the peer's retransmitted last
///   flight, which OpenSSL answers by retransmitting ours): no plaintext alert or data after keys exist;
/// - at a later epoch, it is the current one and its body can hold the suite's smallest ciphertext.
struct DTLSRecordFilter: Sendable, Equatable {
    /// The read epoch in force (1 after a handshake without renegotiation).
    var epoch: UInt16
    /// The smallest body a genuine protected record of the negotiated suite can have.
    var minimumProtectedBody: Int

    /// The records that pass, concatenated (nil when none do), and how many were dropped.
    func filter(_ datagram: [UInt8]) -> (passed: [UInt8]?, dropped: Int) {
        var passed: [UInt8] = []
        var dropped = 0
        var i = 0
        while i < datagram.count {
            guard datagram.count - i >= 13 else { dropped += 1; break }
            let length = Int(datagram[i + 11]) << 8 | Int(datagram[i + 12])
            let end = i + 13 + length
            guard end <= datagram.count else { dropped += 1; break }
            if accepts(type: datagram[i], version: (datagram[i + 1], datagram[i + 2]),
                       epoch: UInt16(datagram[i + 3]) << 8 | UInt16(datagram[i + 4]), length: length) {
                passed.append(contentsOf: datagram[i..<end])
            } else {
                dropped += 1
            }
            i = end
        }
        return (passed.isEmpty ? nil : passed, dropped)
    }

    private func accepts(type: UInt8, version: (UInt8, UInt8), epoch recordEpoch: UInt16, length: Int) -> Bool {
        guard version.0 == 0xFE, version.1 == 0xFD || version.1 == 0xFF, (20...23).contains(type) else { return false }
        if recordEpoch == 0 { return type == 20 || type == 22 }
        return recordEpoch == epoch && length >= minimumProtectedBody
    }

    /// The filter for `ssl`'s negotiated suite: an AEAD record holds at least its explicit nonce and
    /// tag (GCM 8 + 16, ChaCha20-Poly1305 16); a CBC record at least an IV, the MAC and a padding byte.
    static func forConnection(_ ssl: OpaquePointer) -> DTLSRecordFilter {
        guard let cipher = SSL_get_current_cipher(ssl) else { return DTLSRecordFilter(epoch: 1, minimumProtectedBody: 0) }
        if SSL_CIPHER_is_aead(cipher) == 1 {
            let chacha = SSL_CIPHER_get_cipher_nid(cipher) == NID_chacha20_poly1305
            return DTLSRecordFilter(epoch: 1, minimumProtectedBody: chacha ? 16 : 24)
        }
        let digestNID = SSL_CIPHER_get_digest_nid(cipher)
        let macBytes = digestNID == NID_undef ? 20 : Int(EVP_MD_get_size(EVP_get_digestbyname(OBJ_nid2sn(digestNID))))
        return DTLSRecordFilter(epoch: 1, minimumProtectedBody: 16 + max(macBytes, 20) + 1)
    }
}
