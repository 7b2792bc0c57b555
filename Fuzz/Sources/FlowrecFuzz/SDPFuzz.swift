import DTLS
import ICE
import Peer
import SDP
import SRTP

/// SDP text: the parser, serialization, a receive-only answer, candidate lines; and the peer's
/// whole offer → answer path (`PeerConnection(offer:)`, then a renegotiation with the same text).
enum SDPFuzz {
    static func sdp(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        for line in text.split(whereSeparator: \.isNewline) where line.contains("candidate") {
            _ = try? ICECandidate(sdpValue: String(line))
        }
        guard let offer = try? SessionDescription(parsing: text) else { return }
        let again = offer.serialized
        do { _ = try SessionDescription(parsing: again) } catch {
            preconditionFailure("a parsed SDP serializes into text that does not parse: \(error)")
        }
        let options = AnswerOptions(iceUfrag: "fzL1", icePwd: "fuzz-local-password-0001",
                                    fingerprint: "sha-256 " + Array(repeating: "AB", count: 32).joined(separator: ":"))
        _ = try? SessionDescription.receiveOnlyAnswer(to: offer, options: options)
    }

    /// One certificate for the whole run: generating a P-256 key per input would dominate.
    static let certificate: DTLSCertificate = {
        do { return try DTLSCertificate.generate() } catch { fatalError("no DTLS certificate: \(error)") }
    }()

    /// libsrtp's one-time initialisation and the certificate, before the first input (so the
    /// leak checker does not count them against it).
    static func prepare() {
        SRTPSession.prepare()
        _ = certificate
    }

    static func offer(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        guard let peer = try? PeerConnection(offer: text, hostAddresses: [STUNAddress(ip: "192.0.2.1", port: 5000)],
                                             certificate: certificate,
                                             credentials: ICECredentials(ufrag: "fzL1", pwd: "fuzz-local-password-0001"))
        else { return }
        do { _ = try SessionDescription(parsing: peer.answer) } catch {
            preconditionFailure("the peer's answer does not parse: \(error)")
        }
        _ = try? peer.renegotiate(offer: text, nowMicros: 1_000_000)
    }
}
