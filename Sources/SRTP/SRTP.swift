/// Module `SRTP`: SRTP/SRTCP sessions on libsrtp2.
///
/// One `SRTPSession` protects (outbound) or unprotects (inbound) one direction of a DTLS-SRTP
/// association, for any SSRC. Keys come from the DTLS module's exported keying material.
import CSRTP

/// A libsrtp2 failure: its status code and a readable name for it.
public struct SRTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The `srtp_err_status_t` value (0 is ok; 7 auth failure; 9/10 replay).
    public let status: Int32
    public let message: String

    public init(status: Int32, message: String) {
        self.status = status
        self.message = message
    }

    init(_ status: srtp_err_status_t, _ what: String) {
        self.status = Int32(status.rawValue)
        self.message = "\(what): \(SRTPError.name(of: Int32(status.rawValue)))"
    }

    public static let authFailure: Int32 = 7
    public static let replayFailure: Int32 = 9
    public static let replayTooOld: Int32 = 10

    /// True for the two replay statuses (a repeated or too-old packet index).
    public var isReplay: Bool { status == SRTPError.replayFailure || status == SRTPError.replayTooOld }
    public var isAuthFailure: Bool { status == SRTPError.authFailure }

    public var description: String { "SRTP error \(status): \(message)" }

    static func name(of status: Int32) -> String {
        switch status {
        case 0: "ok"
        case 1: "unspecified failure"
        case 2: "unsupported parameter"
        case 3: "allocation failure"
        case 5: "initialization failure"
        case 7: "authentication failure"
        case 8: "cipher failure"
        case 9: "replay check failed (repeated index)"
        case 10: "replay check failed (index too old)"
        case 11: "algorithm self-test failed"
        case 13: "no context for this SSRC"
        case 15: "key expired"
        case 21: "parse error"
        case 25: "bad MKI"
        default: "status \(status)"
        }
    }
}

/// libsrtp must be initialised once per process; a Swift global initialiser runs exactly once (swift_once).
///
/// Debian builds libsrtp2 on NSS. `srtp_init` self-tests every cipher, and each cipher context
/// initialises NSS afresh when no other one is open (10–15 ms each: softokn and sqlite loaded,
/// /dev/urandom read): 14 times, 150 ms, which fell on the event loop at the first session, right
/// as a publisher's media began (Chrome's congestion controller took the stall for congestion).
/// ``SRTPSession/prepare()`` runs it ahead of that; one session made here and never freed keeps
/// NSS up afterwards, so the key derivation of each new stream only counts a reference.
private let srtpInitStatus: Int32 = {
    let status = Int32(srtp_init().rawValue)
    guard status == 0 else { return status }
    var policy = srtp_policy_t()
    srtp_crypto_policy_set_rtp_default(&policy.rtp)
    srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
    policy.ssrc.type = ssrc_any_inbound
    policy.window_size = 1024
    var master = [UInt8](repeating: 0, count: 30)
    var keepAlive: srtp_t?
    _ = master.withUnsafeMutableBufferPointer { buf -> srtp_err_status_t in
        policy.key = buf.baseAddress
        return srtp_create(&keepAlive, &policy)
    }
    return status
}()

/// One direction of SRTP + SRTCP for any SSRC (`ssrc_any_inbound` / `ssrc_any_outbound`).
public final class SRTPSession {
    /// The DTLS-SRTP protection profiles (RFC 5764 / RFC 7714); raw values are the IANA profile ids.
    public enum Profile: UInt16, Sendable, CaseIterable {
        /// SRTP_AES128_CM_HMAC_SHA1_80: 16-byte key, 14-byte salt, 10-byte tag.
        case aes128CmSha1_80 = 0x0001
        /// SRTP_AEAD_AES_128_GCM: 16-byte key, 12-byte salt, 16-byte tag.
        case aeadAes128Gcm = 0x0007

        public var keyLength: Int { 16 }
        public var saltLength: Int { self == .aes128CmSha1_80 ? 14 : 12 }
    }

    private let session: srtp_t
    public let profile: Profile
    public let inbound: Bool

    /// Initialises libsrtp (and NSS under it) now, so that the first session costs no more than
    /// any other; returns the error if that failed. Cheap after the first call.
    @discardableResult
    public static func prepare() -> SRTPError? {
        srtpInitStatus == 0 ? nil : SRTPError(status: srtpInitStatus, message: "srtp_init: \(SRTPError.name(of: srtpInitStatus))")
    }

    /// - Parameters:
    ///   - key, salt: the master key and salt (16+14 bytes for CM, 16+12 for GCM).
    ///   - inbound: true to unprotect what a peer sends, false to protect what we send.
    public init(profile: Profile, key: [UInt8], salt: [UInt8], inbound: Bool) throws(SRTPError) {
        if let failure = Self.prepare() { throw failure }
        guard key.count == profile.keyLength, salt.count == profile.saltLength else {
            throw SRTPError(status: 2, message: "\(profile) needs a \(profile.keyLength)-byte key and a "
                            + "\(profile.saltLength)-byte salt, got \(key.count) and \(salt.count)")
        }
        var policy = srtp_policy_t()
        switch profile {
        case .aes128CmSha1_80:
            srtp_crypto_policy_set_rtp_default(&policy.rtp)
            srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
        case .aeadAes128Gcm:
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp)
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp)
        }
        policy.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound
        policy.window_size = 1024
        policy.allow_repeat_tx = 0
        policy.next = nil
        var master = key + salt
        var created: srtp_t? = nil
        let status = master.withUnsafeMutableBufferPointer { buf -> srtp_err_status_t in
            policy.key = buf.baseAddress
            return srtp_create(&created, &policy)
        }
        for i in master.indices { master[i] = 0 }
        guard status == srtp_err_status_ok, let created else { throw SRTPError(status, "srtp_create") }
        self.session = created
        self.profile = profile
        self.inbound = inbound
    }

    /// Creates a session from an IANA DTLS-SRTP profile id (0x0001 or 0x0007).
    public convenience init(profileID: UInt16, key: [UInt8], salt: [UInt8], inbound: Bool) throws(SRTPError) {
        guard let profile = Profile(rawValue: profileID) else {
            throw SRTPError(status: 2, message: "unsupported SRTP protection profile 0x\(String(profileID, radix: 16))")
        }
        try self.init(profile: profile, key: key, salt: salt, inbound: inbound)
    }

    deinit { srtp_dealloc(session) }

    public func protectRTP(_ packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        try run(packet, grow: true, "srtp_protect") { srtp_protect($0, $1, $2) }
    }
    public func unprotectRTP(_ packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        try run(packet, grow: false, "srtp_unprotect") { srtp_unprotect($0, $1, $2) }
    }
    public func protectRTCP(_ packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        try run(packet, grow: true, "srtp_protect_rtcp") { srtp_protect_rtcp($0, $1, $2) }
    }
    public func unprotectRTCP(_ packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        try run(packet, grow: false, "srtp_unprotect_rtcp") { srtp_unprotect_rtcp($0, $1, $2) }
    }

    /// Copies `packet` into a buffer with room for the trailer (libsrtp writes up to
    /// `SRTP_MAX_TRAILER_LEN` bytes past the end), runs `op` in place and trims to the new length.
    private func run(_ packet: [UInt8], grow: Bool, _ what: String,
                     _ op: (srtp_t, UnsafeMutableRawPointer, UnsafeMutablePointer<Int32>) -> srtp_err_status_t) throws(SRTPError) -> [UInt8] {
        // Shortest packet libsrtp accepts: an RTP header (12) / RTCP header (8); let it judge.
        guard !packet.isEmpty, packet.count <= Int(Int32.max) - 256 else {
            throw SRTPError(status: 2, message: "\(what): packet of \(packet.count) bytes")
        }
        var buffer = packet
        buffer.append(contentsOf: repeatElement(0, count: grow ? Int(SRTP_MAX_TRAILER_LEN) : 0))
        var length = Int32(packet.count)
        let session = self.session
        let status = buffer.withUnsafeMutableBytes { raw in op(session, raw.baseAddress!, &length) }
        guard status == srtp_err_status_ok else { throw SRTPError(status, what) }
        guard length >= 0, Int(length) <= buffer.count else {
            throw SRTPError(status: 1, message: "\(what): bad output length \(length)")
        }
        buffer.removeLast(buffer.count - Int(length))
        return buffer
    }
}
