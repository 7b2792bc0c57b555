import Media
import SDP

/// What an offer/answer exchange settled for the media a receive-only peer takes: which codec
/// each payload type carries, which payload types are RTX (RFC 4588) and what they repair, which
/// RTCP feedback the sender understands, and the SSRC pairs announced by `a=ssrc-group:FID`.
public struct NegotiatedMedia: Sendable, Equatable {
    /// Codec by payload type, for the accepted m-lines (RTX excluded).
    public var codecs: [UInt8: Codec] = [:]
    /// RTX payload type → the payload type it repairs (`apt`).
    public var rtxPayloadTypes: [UInt8: UInt8] = [:]
    /// RTX SSRC → media SSRC, from `a=ssrc-group:FID media rtx`.
    public var rtxSSRCs: [UInt32: UInt32] = [:]
    /// Payload types whose sender takes Generic NACK (`a=rtcp-fb:PT nack`).
    public var nackPayloadTypes: Set<UInt8> = []
    /// Payload types whose sender takes PLI (`nack pli`) and FIR (`ccm fir`).
    public var pliPayloadTypes: Set<UInt8> = []
    public var firPayloadTypes: Set<UInt8> = []
    /// Whether the sender listens to REMB (`goog-remb`) on any payload type.
    public var remb = false
    /// The m-line (mid) of each SSRC the offer announced on an accepted m-line (RTX SSRCs included).
    public var midOfSSRC: [UInt32: String] = [:]
    /// The id of the `urn:ietf:params:rtp-hdrext:sdes:mid` header extension, when negotiated.
    public var midExtensionID: UInt8?
    /// The id of the transport-wide sequence number header extension, when negotiated: the sender
    /// then counts on transport-cc feedback for its congestion control.
    public var transportSequenceExtensionID: UInt8?
    /// The ids of the RFC 8852 rid header extensions (`sdes:rtp-stream-id`, `sdes:repaired-rtp-stream-id`):
    /// the SSRCs of simulcast layers, and of their RTX, are learned from them.
    public var ridExtensionID: UInt8?
    public var repairedRidExtensionID: UInt8?
    /// The simulcast layers (rids) accepted per m-line.
    public var simulcastRids: [String: [String]] = [:]
    /// Whether the sender takes transport-cc feedback (`a=rtcp-fb:PT transport-cc`) on any payload type.
    public var transportCC = false
    /// CNAME by SSRC, from `a=ssrc:… cname:`.
    public var cnames: [UInt32: String] = [:]
    /// The DTLS fingerprint and setup role the offerer announced (BUNDLE: from the first m-line that has them).
    public var remoteFingerprint: String?
    public var remoteSetup: String?
    /// The offerer's ICE credentials (session level or the first m-line's).
    public var remoteUfrag: String?
    public var remotePwd: String?
    /// `a=candidate` values the offer carried (without the prefix), for the first BUNDLE transport.
    public var remoteCandidates: [String] = []

    public init() {}

    /// Reads `offer` as answered by `answered` (from ``SessionDescription/receiveOnlyAnswer(to:options:)``).
    public init(offer: SessionDescription, answered: [AnsweredMedia]) {
        let accepted = Set(answered.filter { $0.payloadFormats != nil }.map(\.mid))
        for (index, section) in offer.media.enumerated() {
            let mid = section.mid ?? String(index)
            remoteFingerprint = remoteFingerprint ?? Self.sha256(section.attributes("fingerprint"))
            remoteSetup = remoteSetup ?? section.attribute("setup")
            remoteUfrag = remoteUfrag ?? section.attribute("ice-ufrag")
            remotePwd = remotePwd ?? section.attribute("ice-pwd")
            for (ssrc, cname) in section.ssrcs { if let cname { cnames[ssrc] = cname } }
            guard accepted.contains(mid), let answer = answered.first(where: { $0.mid == mid }), let formats = answer.payloadFormats else { continue }
            if !answer.rids.isEmpty { simulcastRids[mid] = answer.rids }
            if remoteCandidates.isEmpty { remoteCandidates = section.attributes("candidate") }
            for (ssrc, _) in section.ssrcs { midOfSSRC[ssrc] = mid }
            for (id, uri) in section.headerExtensions {
                switch uri {
                case Self.midURI: midExtensionID = UInt8(truncatingIfNeeded: id)
                case Self.transportSequenceURI: transportSequenceExtensionID = UInt8(truncatingIfNeeded: id)
                case Self.ridURI: ridExtensionID = UInt8(truncatingIfNeeded: id)
                case Self.repairedRidURI: repairedRidExtensionID = UInt8(truncatingIfNeeded: id)
                default: break
                }
            }
            for format in formats {
                if format.encodingName.lowercased() == "rtx", let apt = format.parameter("apt").flatMap(UInt8.init) {
                    rtxPayloadTypes[format.payloadType] = apt
                    continue
                }
                guard let codec = Codec(encodingName: format.encodingName) else { continue }
                codecs[format.payloadType] = codec
                if format.feedback.contains("nack") { nackPayloadTypes.insert(format.payloadType) }
                if format.feedback.contains("nack pli") { pliPayloadTypes.insert(format.payloadType) }
                if format.feedback.contains("ccm fir") { firPayloadTypes.insert(format.payloadType) }
                if format.feedback.contains("goog-remb") { remb = true }
                if format.feedback.contains("transport-cc") { transportCC = true }
            }
            for group in section.attributes("ssrc-group") {
                let parts = group.split(separator: " ")
                guard parts.first == "FID", parts.count == 3, let media = UInt32(parts[1]), let rtx = UInt32(parts[2]) else { continue }
                rtxSSRCs[rtx] = media
            }
        }
        remoteFingerprint = remoteFingerprint ?? Self.sha256(offer.attributes.filter { $0.name == "fingerprint" }.compactMap(\.value))
        remoteSetup = remoteSetup ?? offer.attribute("setup")
        remoteUfrag = remoteUfrag ?? offer.attribute("ice-ufrag")
        remotePwd = remotePwd ?? offer.attribute("ice-pwd")
    }

    static let midURI = "urn:ietf:params:rtp-hdrext:sdes:mid"
    static let transportSequenceURI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
    static let ridURI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
    static let repairedRidURI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"

    /// Whether transport-cc feedback goes to the sender: it numbers its packets and takes the feedback.
    public var sendsTransportFeedback: Bool { transportSequenceExtensionID != nil && transportCC }

    /// The SHA-256 one of several `a=fingerprint` values (offers may add sha-384 and sha-512).
    static func sha256(_ fingerprints: [String]) -> String? {
        fingerprints.first { $0.lowercased().hasPrefix("sha-256 ") }
    }
}
