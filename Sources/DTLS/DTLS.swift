/// Module `DTLS`: DTLS 1.2 over memory BIOs with OpenSSL, sans-IO.
///
/// `DTLSEndpoint` never touches a socket: the caller feeds it received datagrams, sends the
/// datagrams it returns, and calls `handleTimeout` when `nextTimeoutMillis` is reached. After the
/// handshake it exports DTLS-SRTP keying material (RFC 5764 §4.2) for the SRTP module.
import COpenSSL
import CShims

// MARK: - Errors

/// A DTLS failure, with OpenSSL's error queue appended to the reason when it has anything.
public struct DTLSError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String

    public init(reason: String) { self.reason = reason }

    /// `what`, followed by (and consuming) the thread's OpenSSL error queue.
    static func openSSL(_ what: String) -> DTLSError {
        let queue = drainOpenSSLErrors()
        return DTLSError(reason: queue.isEmpty ? what : "\(what): \(queue)")
    }

    public var description: String { "DTLS error: \(reason)" }
}

/// Empties this thread's OpenSSL error queue into one line ("error:...; error:...").
func drainOpenSSLErrors() -> String {
    var parts: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buf = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buf, buf.count)
        parts.append(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return parts.joined(separator: "; ")
}

// MARK: - Certificate

/// A self-signed ECDSA P-256 certificate and its private key, as WebRTC endpoints use.
/// Immutable once generated (OpenSSL reference-counts both objects atomically), so one certificate
/// can serve many endpoints on different tasks.
public final class DTLSCertificate: @unchecked Sendable {
    let x509: OpaquePointer
    let privateKey: OpaquePointer
    /// "AB:CD:..." upper-case hex of the DER's SHA-256, as in SDP `a=fingerprint:sha-256`.
    public let fingerprintSHA256: String

    private init(x509: OpaquePointer, privateKey: OpaquePointer) throws(DTLSError) {
        self.x509 = x509
        self.privateKey = privateKey
        self.fingerprintSHA256 = try sha256Fingerprint(of: x509)
    }

    deinit {
        X509_free(x509)
        EVP_PKEY_free(privateKey)
    }

    /// Generates a fresh key pair and a self-signed certificate valid from an hour ago for `validityDays`.
    public static func generate(validityDays: Int = 30, commonName: String = "flowrec") throws(DTLSError) -> DTLSCertificate {
        ERR_clear_error()
        guard let pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nil) else { throw .openSSL("EVP_PKEY_CTX_new_id") }
        defer { EVP_PKEY_CTX_free(pctx) }
        var pkey: OpaquePointer? = nil
        guard EVP_PKEY_keygen_init(pctx) == 1,
              EVP_PKEY_CTX_set_ec_paramgen_curve_nid(pctx, NID_X9_62_prime256v1) == 1,
              EVP_PKEY_keygen(pctx, &pkey) == 1, let key = pkey else {
            throw .openSSL("P-256 key generation")
        }
        guard let x509 = X509_new() else {
            EVP_PKEY_free(key)
            throw .openSSL("X509_new")
        }
        var serial: UInt32 = 0
        _ = withUnsafeMutableBytes(of: &serial) { RAND_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), 4) }
        let ok = X509_set_version(x509, 2) == 1
            && ASN1_INTEGER_set(X509_get_serialNumber(x509), Int(serial & 0x7FFF_FFFF) | 1) == 1
            && X509_gmtime_adj(X509_getm_notBefore(x509), -3600) != nil
            && X509_gmtime_adj(X509_getm_notAfter(x509), validityDays * 86_400) != nil
            && X509_set_pubkey(x509, key) == 1
            && addCommonName(commonName, to: x509)
            && X509_sign(x509, key, EVP_sha256()) > 0
        guard ok else {
            X509_free(x509)
            EVP_PKEY_free(key)
            throw .openSSL("self-signed certificate")
        }
        return try DTLSCertificate(x509: x509, privateKey: key)
    }

    private static func addCommonName(_ name: String, to x509: OpaquePointer) -> Bool {
        guard let subject = X509_get_subject_name(x509) else { return false }
        let bytes = Array(name.utf8)
        let added = X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, bytes, Int32(bytes.count), -1, 0) == 1
        return added && X509_set_issuer_name(x509, subject) == 1
    }
}

/// SHA-256 of a certificate's DER, formatted "AB:CD:...".
func sha256Fingerprint(of x509: OpaquePointer) throws(DTLSError) -> String {
    var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    guard X509_digest(x509, EVP_sha256(), &digest, &length) == 1, length == 32 else {
        throw .openSSL("X509_digest")
    }
    return formatFingerprint(digest.prefix(Int(length)))
}

func formatFingerprint<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    let hex = Array("0123456789ABCDEF")
    return bytes.map { String([hex[Int($0 >> 4)], hex[Int($0 & 0xF)]]) }.joined(separator: ":")
}

/// Accepts "ab:cd:…" in any case, optionally prefixed by "sha-256 " (the SDP attribute value);
/// returns the canonical upper-case form, or nil unless it is 32 colon-separated hex bytes.
func normalizeFingerprint(_ text: String) -> String? {
    var s = text.trimmingWhitespace()
    if s.lowercased().hasPrefix("sha-256") { s = String(s.dropFirst(7)).trimmingWhitespace() }
    let parts = s.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 32 else { return nil }
    var bytes: [UInt8] = []
    for p in parts {
        guard p.count == 2, let b = UInt8(p, radix: 16) else { return nil }
        bytes.append(b)
    }
    return formatFingerprint(bytes)
}

private extension String {
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}

// MARK: - Public types

/// Which side starts the handshake: from SDP `a=setup` (`active` = client, `passive` = server).
public enum DTLSRole: Sendable, Equatable {
    case client, server

    /// Our role from our own SDP `a=setup` value: `active` → client, `passive` → server;
    /// nil for `actpass`/`holdconn`/anything else (an answer must settle on one of the two).
    public init?(localSetup: String) {
        switch localSetup.lowercased() {
        case "active": self = .client
        case "passive": self = .server
        default: return nil
        }
    }
}

/// The DTLS-SRTP protection profiles we offer; raw values are the IANA ids (RFC 5764, RFC 7714).
public enum SRTPProfile: UInt16, Sendable, Equatable, CaseIterable {
    /// SRTP_AES128_CM_HMAC_SHA1_80: 16-byte keys, 14-byte salts.
    case aes128CmSha1_80 = 0x0001
    /// SRTP_AEAD_AES_128_GCM: 16-byte keys, 12-byte salts.
    case aeadAes128Gcm = 0x0007

    /// The name OpenSSL's `use_srtp` list knows it by.
    public var openSSLName: String {
        switch self {
        case .aes128CmSha1_80: "SRTP_AES128_CM_SHA1_80"
        case .aeadAes128Gcm: "SRTP_AEAD_AES_128_GCM"
        }
    }
    public var keyLength: Int { 16 }
    public var saltLength: Int { self == .aes128CmSha1_80 ? 14 : 12 }
}

/// SRTP master keys and salts for both directions, from our point of view.
public struct SRTPKeyingMaterial: Sendable, Equatable {
    public let profile: SRTPProfile
    /// What we protect outgoing packets with.
    public let localKey: [UInt8]
    public let localSalt: [UInt8]
    /// What the peer protects its packets with: use it to unprotect what we receive.
    public let remoteKey: [UInt8]
    public let remoteSalt: [UInt8]

    public init(profile: SRTPProfile, localKey: [UInt8], localSalt: [UInt8], remoteKey: [UInt8], remoteSalt: [UInt8]) {
        self.profile = profile
        self.localKey = localKey
        self.localSalt = localSalt
        self.remoteKey = remoteKey
        self.remoteSalt = remoteSalt
    }

    /// Splits RFC 5764 §4.2 exporter output: client key | server key | client salt | server salt.
    public init?(exported m: [UInt8], profile: SRTPProfile, role: DTLSRole) {
        let k = profile.keyLength, s = profile.saltLength
        guard m.count == 2 * (k + s) else { return nil }
        let clientKey = Array(m[0..<k]), serverKey = Array(m[k..<2 * k])
        let clientSalt = Array(m[2 * k..<2 * k + s]), serverSalt = Array(m[2 * k + s..<2 * (k + s)])
        switch role {
        case .client: self.init(profile: profile, localKey: clientKey, localSalt: clientSalt, remoteKey: serverKey, remoteSalt: serverSalt)
        case .server: self.init(profile: profile, localKey: serverKey, localSalt: serverSalt, remoteKey: clientKey, remoteSalt: clientSalt)
        }
    }
}

/// What one call into the endpoint produced.
public struct DTLSEvents: Sendable, Equatable {
    /// Datagrams to send to the peer, in order.
    public var outgoing: [[UInt8]] = []
    /// Set on the call that completed the handshake (and verified the peer's fingerprint).
    public var connected: SRTPKeyingMaterial? = nil
    /// Set on the call that failed the endpoint.
    public var failure: String? = nil
    /// The peer sent close_notify.
    public var closed: Bool = false
    /// Decrypted application data records (e.g. SCTP for data channels).
    public var applicationData: [[UInt8]] = []

    public init() {}
}

// MARK: - Endpoint

/// One DTLS 1.2 association over memory BIOs. Not thread-safe: drive it from one task.
public final class DTLSEndpoint {
    public enum State: Sendable, Equatable {
        case connecting
        case connected(SRTPKeyingMaterial)
        case failed(String)
    }

    public struct Options: Sendable {
        /// Offered (client) / accepted (server) profiles, most preferred first.
        public var srtpProfiles: [SRTPProfile]
        /// Largest datagram we send; handshake messages are fragmented to fit.
        public var mtu: Int
        /// First retransmission timeout (OpenSSL's default is 1 s), doubled on each retransmission up to 60 s.
        public var initialRetransmitMillis: Int?
        /// The DTLS 1.2 cipher suites (OpenSSL's list syntax), most preferred first; as a server the
        /// endpoint picks by this order, not the client's.
        public var cipherSuites: String

        /// AEAD suites only (AES-GCM, ChaCha20-Poly1305), as RFC 9325 recommends and every WebRTC stack
        /// offers. CBC suites are left out: OpenSSL ends a CBC association on some malformed records
        /// (wrong length for the block size) instead of discarding them, so one forged datagram from
        /// the peer's address would end a recording.
        public static let defaultCipherSuites = [
            "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
            "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        ].joined(separator: ":")

        public init(srtpProfiles: [SRTPProfile] = [.aeadAes128Gcm, .aes128CmSha1_80], mtu: Int = 1200,
                    initialRetransmitMillis: Int? = nil, cipherSuites: String = Options.defaultCipherSuites) {
            self.srtpProfiles = srtpProfiles
            self.mtu = mtu
            self.initialRetransmitMillis = initialRetransmitMillis
            self.cipherSuites = cipherSuites
        }
    }

    public let role: DTLSRole
    public let certificate: DTLSCertificate
    /// The expected peer fingerprint, canonical "AB:CD:..." form.
    public let remoteFingerprint: String
    public private(set) var state: State = .connecting
    /// The peer's certificate fingerprint, once seen.
    public private(set) var peerFingerprint: String?
    public private(set) var isClosed = false

    private let context: OpaquePointer
    private let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    private let writeBIO: OpaquePointer
    private let mtu: Int
    let initialRetransmitMicros: UInt32
    /// The caller's clock at the latest call, to turn OpenSSL's time-left into a deadline.
    private var lastNowMillis: Int64 = 0
    private var handshakeDone = false
    /// The raw RFC 5764 exporter output (client key | server key | client salt | server salt), for tests.
    private(set) var exportedKeyingMaterial: [UInt8]?
    private var fingerprintMismatch: String?
    /// Set when the handshake completes: what may reach OpenSSL from then on.
    private var recordFilter: DTLSRecordFilter?
    /// Records discarded unread since the handshake (malformed, wrong epoch, too short to be genuine).
    public private(set) var discardedRecords = 0

    public init(role: DTLSRole, certificate: DTLSCertificate, remoteFingerprint: String,
                options: Options = Options()) throws(DTLSError) {
        guard let expected = normalizeFingerprint(remoteFingerprint) else {
            throw DTLSError(reason: "remote fingerprint is not a SHA-256 fingerprint: \"\(remoteFingerprint)\"")
        }
        guard !options.srtpProfiles.isEmpty else { throw DTLSError(reason: "no SRTP profile to offer") }
        guard (256...65_535).contains(options.mtu) else { throw DTLSError(reason: "MTU \(options.mtu) out of range") }
        ERR_clear_error()
        let context = try DTLSEndpoint.makeContext(certificate: certificate, profiles: options.srtpProfiles,
                                                   cipherSuites: options.cipherSuites)
        guard let ssl = SSL_new(context) else {
            SSL_CTX_free(context)
            throw .openSSL("SSL_new")
        }
        guard let rbio = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            SSL_CTX_free(context)
            throw .openSSL("BIO_new")
        }
        guard let wbio = BIO_new(BIO_s_mem()) else {
            BIO_free(rbio)
            SSL_free(ssl)
            SSL_CTX_free(context)
            throw .openSSL("BIO_new")
        }
        flowrec_bio_set_mem_eof_retry(rbio)
        flowrec_bio_set_mem_eof_retry(wbio)
        SSL_set_bio(ssl, rbio, wbio)  // the SSL owns both BIOs from here on
        self.role = role
        self.certificate = certificate
        self.remoteFingerprint = expected
        self.context = context
        self.ssl = ssl
        self.readBIO = rbio
        self.writeBIO = wbio
        self.mtu = options.mtu
        let initial = options.initialRetransmitMillis.map { max(1, min($0, 60_000)) } ?? 1000
        self.initialRetransmitMicros = UInt32(initial * 1000)

        _ = flowrec_ssl_set_app_data(ssl, Unmanaged.passUnretained(self).toOpaque())
        flowrec_ssl_set_fixed_mtu(ssl, options.mtu)
        DTLS_set_timer_cb(ssl, dtlsTimerCallback)
        switch role {
        case .client: SSL_set_connect_state(ssl)
        case .server: SSL_set_accept_state(ssl)
        }
    }

    deinit {
        SSL_free(ssl)  // frees both BIOs
        SSL_CTX_free(context)
    }

    private static func makeContext(certificate: DTLSCertificate, profiles: [SRTPProfile],
                                    cipherSuites: String) throws(DTLSError) -> OpaquePointer {
        guard let ctx = SSL_CTX_new(DTLS_method()) else { throw .openSSL("SSL_CTX_new") }
        let srtp = profiles.map(\.openSSLName).joined(separator: ":")
        let ok = flowrec_ssl_ctx_set_min_proto_version(ctx, DTLS1_2_VERSION) == 1
            && flowrec_ssl_ctx_set_max_proto_version(ctx, DTLS1_2_VERSION) == 1
            && SSL_CTX_use_certificate(ctx, certificate.x509) == 1
            && SSL_CTX_use_PrivateKey(ctx, certificate.privateKey) == 1
            && SSL_CTX_check_private_key(ctx) == 1
            && SSL_CTX_set_tlsext_use_srtp(ctx, srtp) == 0  // 0 is success here
            && SSL_CTX_set_cipher_list(ctx, cipherSuites) == 1
        guard ok else {
            SSL_CTX_free(ctx)
            throw .openSSL("DTLS context setup")
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, dtlsVerifyCallback)
        flowrec_ssl_ctx_prefer_server_ciphers(ctx)
        flowrec_ssl_ctx_disable_renegotiation(ctx)  // WebRTC never renegotiates; refuse a peer that tries
        return ctx
    }

    // MARK: Driving

    /// Starts the handshake. A client returns its ClientHello flight; a server returns nothing
    /// (it waits for the ClientHello in `receive`).
    public func start(nowMillis: Int64) -> [[UInt8]] {
        lastNowMillis = nowMillis
        guard role == .client, case .connecting = state else { return [] }
        var events = DTLSEvents()
        advanceHandshake(&events)
        return drainOutgoing()
    }

    /// Feeds one received datagram (the caller demultiplexes: DTLS records start with a byte in 20...63).
    public func receive(_ datagram: [UInt8], nowMillis: Int64) -> DTLSEvents {
        lastNowMillis = nowMillis
        var events = DTLSEvents()
        guard !datagram.isEmpty, !isClosed else { return events }
        if case .failed = state { return events }
        var datagram = datagram
        if let recordFilter {
            let (passed, dropped) = recordFilter.filter(datagram)
            discardedRecords += dropped
            guard let passed else { return events }
            datagram = passed
        }
        let written = datagram.withUnsafeBytes { BIO_write(readBIO, $0.baseAddress, Int32($0.count)) }
        guard written == Int32(datagram.count) else {
            ERR_clear_error()
            return events
        }
        if !handshakeDone { advanceHandshake(&events) }
        if handshakeDone, case .connected = state { readApplicationData(&events) }
        _ = flowrec_bio_reset(readBIO)  // nothing of a datagram may leak into the next one
        events.outgoing = drainOutgoing()
        return events
    }

    /// Retransmits the current flight if OpenSSL's timer expired. OpenSSL measures its timer on the
    /// wall clock, so call this once `nextTimeoutMillis` has passed on a clock that runs in real time.
    /// A handshake that times out for good (12 retransmissions) fails the endpoint.
    public func handleTimeout(nowMillis: Int64) -> [[UInt8]] {
        lastNowMillis = nowMillis
        if case .failed = state { return [] }
        ERR_clear_error()
        let r = flowrec_dtls_handle_timeout(ssl)
        if r < 0 {
            var events = DTLSEvents()
            fail("DTLS handshake timed out", &events)
        }
        return drainOutgoing()
    }

    /// When `handleTimeout` should be called next, on the caller's clock; nil when no timer runs.
    public var nextTimeoutMillis: Int64? {
        if case .failed = state { return nil }
        var left: Int64 = 0
        guard flowrec_dtls_get_timeout_millis(ssl, &left) == 1 else { return nil }
        return lastNowMillis + left
    }

    /// Encrypts application data into datagrams (empty unless connected).
    public func send(_ data: [UInt8]) -> [[UInt8]] {
        guard case .connected = state, !isClosed, !data.isEmpty else { return [] }
        ERR_clear_error()
        let r = data.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        if r <= 0 { ERR_clear_error() }
        return drainOutgoing()
    }

    /// The negotiated suite's OpenSSL name, once connected.
    public var negotiatedCipherSuite: String? {
        guard case .connected = state, let cipher = SSL_get_current_cipher(ssl), let name = SSL_CIPHER_get_name(cipher) else { return nil }
        return String(cString: name)
    }

    /// Sends close_notify.
    public func close() -> [[UInt8]] {
        guard !isClosed else { return [] }
        isClosed = true
        if case .connected = state {
            ERR_clear_error()
            _ = SSL_shutdown(ssl)
            ERR_clear_error()
        }
        return drainOutgoing()
    }

    // MARK: Internals

    private func advanceHandshake(_ events: inout DTLSEvents) {
        ERR_clear_error()
        let r = SSL_do_handshake(ssl)
        if r == 1 {
            finishHandshake(&events)
            return
        }
        let error = SSL_get_error(ssl, r)
        if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE {
            ERR_clear_error()
            return
        }
        let queue = drainOpenSSLErrors()
        var reason = fingerprintMismatch ?? "DTLS handshake failed"
        if !queue.isEmpty { reason += ": \(queue)" }
        fail(reason, &events)
    }

    private func finishHandshake(_ events: inout DTLSEvents) {
        handshakeDone = true
        // Authoritative check, whatever the verify callback saw.
        guard let peer = SSL_get1_peer_certificate(ssl) else {
            fail("peer sent no certificate", &events)
            return
        }
        let seen = try? sha256Fingerprint(of: peer)
        X509_free(peer)
        peerFingerprint = seen
        guard let seen, seen == remoteFingerprint else {
            fail("remote certificate fingerprint \(seen ?? "?") does not match the expected \(remoteFingerprint)", &events)
            _ = SSL_shutdown(ssl)  // tell the peer (close_notify) rather than leave it hanging
            ERR_clear_error()
            return
        }
        guard let selected = SSL_get_selected_srtp_profile(ssl),
              let profile = SRTPProfile(rawValue: UInt16(truncatingIfNeeded: selected.pointee.id)) else {
            fail("no SRTP protection profile was negotiated", &events)
            return
        }
        let label = "EXTRACTOR-dtls_srtp"
        var exported = [UInt8](repeating: 0, count: 2 * (profile.keyLength + profile.saltLength))
        let ok = SSL_export_keying_material(ssl, &exported, exported.count, label, label.utf8.count, nil, 0, 0) == 1
        guard ok, let material = SRTPKeyingMaterial(exported: exported, profile: profile, role: role) else {
            fail(DTLSError.openSSL("exporting SRTP keying material").reason, &events)
            return
        }
        exportedKeyingMaterial = exported
        recordFilter = DTLSRecordFilter.forConnection(ssl)
        state = .connected(material)
        events.connected = material
    }

    private func readApplicationData(_ events: inout DTLSEvents) {
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            ERR_clear_error()
            let n = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if n > 0 {
                events.applicationData.append(Array(buffer[0..<Int(n)]))
                continue
            }
            let error = SSL_get_error(ssl, n)
            if error == SSL_ERROR_ZERO_RETURN {
                isClosed = true
                events.closed = true
            } else if error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE {
                let queue = drainOpenSSLErrors()
                fail(queue.isEmpty ? "DTLS connection failed" : "DTLS connection failed: \(queue)", &events)
            }
            ERR_clear_error()
            return
        }
    }

    private func fail(_ reason: String, _ events: inout DTLSEvents) {
        if case .failed = state { return }
        state = .failed(reason)
        events.failure = reason
    }

    /// Everything OpenSSL wrote, split on record boundaries and packed into datagrams of at most `mtu` bytes.
    private func drainOutgoing() -> [[UInt8]] {
        let pending = BIO_ctrl_pending(writeBIO)
        guard pending > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: Int(pending))
        let n = bytes.withUnsafeMutableBytes { BIO_read(writeBIO, $0.baseAddress, Int32($0.count)) }
        guard n > 0 else { return [] }
        bytes.removeLast(bytes.count - Int(n))
        return packRecords(bytes, mtu: mtu)
    }

    /// Called from the verify callback with the leaf certificate.
    fileprivate func checkPeerCertificate(_ x509: OpaquePointer) -> Bool {
        guard let seen = try? sha256Fingerprint(of: x509) else { return false }
        peerFingerprint = seen
        guard seen == remoteFingerprint else {
            fingerprintMismatch = "remote certificate fingerprint \(seen) does not match the expected \(remoteFingerprint)"
            return false
        }
        return true
    }
}

/// Splits a byte stream of DTLS records (13-byte headers, length in bytes 11–12) and packs whole
/// records into datagrams of at most `mtu` bytes (a record larger than `mtu` goes alone).
func packRecords(_ bytes: [UInt8], mtu: Int) -> [[UInt8]] {
    var datagrams: [[UInt8]] = []
    var current: [UInt8] = []
    var i = 0
    while i < bytes.count {
        var end = bytes.count
        if bytes.count - i >= 13 {
            end = min(bytes.count, i + 13 + (Int(bytes[i + 11]) << 8 | Int(bytes[i + 12])))
        }
        if !current.isEmpty && current.count + (end - i) > mtu {
            datagrams.append(current)
            current = []
        }
        current.append(contentsOf: bytes[i..<end])
        i = end
    }
    if !current.isEmpty { datagrams.append(current) }
    return datagrams
}

// MARK: - C callbacks

/// Accepts self-signed certificates; the leaf must carry the fingerprint from the SDP.
private let dtlsVerifyCallback: @convention(c) (Int32, OpaquePointer?) -> Int32 = { _, store in
    guard let store else { return 0 }
    guard X509_STORE_CTX_get_error_depth(store) == 0 else { return 1 }
    guard let sslPointer = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
          let app = flowrec_ssl_get_app_data(OpaquePointer(sslPointer)),
          let leaf = X509_STORE_CTX_get_current_cert(store) else { return 0 }
    let endpoint = Unmanaged<DTLSEndpoint>.fromOpaque(app).takeUnretainedValue()
    return endpoint.checkPeerCertificate(leaf) ? 1 : 0
}

/// Retransmission timer: the endpoint's initial timeout, doubled each time up to 60 s.
private let dtlsTimerCallback: @convention(c) (OpaquePointer?, UInt32) -> UInt32 = { ssl, previous in
    if previous != 0 { return min(previous &* 2, 60_000_000) }
    guard let ssl, let app = flowrec_ssl_get_app_data(ssl) else { return 1_000_000 }
    return Unmanaged<DTLSEndpoint>.fromOpaque(app).takeUnretainedValue().initialRetransmitMicros
}
