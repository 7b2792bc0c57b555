/// Answering an offer as a receive-only peer (the recorder never sends media): RFC 8829 JSEP
/// answer rules restricted to what flowrec can record.

/// What the answerer brings: its ICE credentials, DTLS fingerprint and setup role, candidates,
/// and what it can receive.
public struct AnswerOptions: Sendable {
    public var iceUfrag: String
    public var icePwd: String
    /// `sha-256 AB:CD:…` as it goes after `a=fingerprint:`.
    public var fingerprint: String
    /// `active` (we are the DTLS client) or `passive`; answering `actpass` with `active` is the RFC 8842 advice.
    public var setup: String
    /// `a=candidate` values (without the `a=candidate:` prefix).
    public var candidates: [String]
    /// Encoding names accepted per media kind, in preference order.
    public var audioCodecs: [String]
    public var videoCodecs: [String]
    /// RTCP feedback kept when offered.
    public var feedback: Set<String>
    /// Header-extension URIs kept when offered (their ids are kept as offered).
    public var headerExtensions: Set<String>
    /// `o=` session id.
    public var sessionID: UInt64
    /// `o=` session version: one more with each answer of a renegotiation (RFC 8866 §5.2).
    public var sessionVersion: UInt64 = 2

    public init(iceUfrag: String, icePwd: String, fingerprint: String, setup: String = "active", candidates: [String] = [],
                audioCodecs: [String] = ["opus"], videoCodecs: [String] = ["VP8", "VP9", "H264"],
                feedback: Set<String> = ["nack", "nack pli", "ccm fir", "goog-remb", "transport-cc"],
                headerExtensions: Set<String> = [
                    "urn:ietf:params:rtp-hdrext:sdes:mid", "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
                    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
                    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
                    "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
                ],
                sessionID: UInt64 = 1) {
        self.iceUfrag = iceUfrag
        self.icePwd = icePwd
        self.fingerprint = fingerprint
        self.setup = setup
        self.candidates = candidates
        self.audioCodecs = audioCodecs
        self.videoCodecs = videoCodecs
        self.feedback = feedback
        self.headerExtensions = headerExtensions
        self.sessionID = sessionID
    }
}

/// One m-line of the offer as answered.
public struct AnsweredMedia: Sendable, Equatable {
    public var mid: String
    public var kind: String
    /// Nil when rejected (port 0).
    public var payloadFormats: [SDPPayloadFormat]?
    /// Why it was rejected, when it was.
    public var rejection: String?
    /// Offered `a=ssrc` entries (SSRC and CNAME), for grouping streams into participants.
    public var ssrcs: [UInt32]
    /// The simulcast streams (RFC 8853 rids) accepted on this m-line, in the offer's order; empty without simulcast.
    public var rids: [String] = []
}

extension SDPMediaSection {
    /// The rids this m-line offers to send as simulcast (RFC 8853 `a=simulcast:send`, each with an
    /// `a=rid:… send` line), the first alternative of each stream, and whether it starts paused (`~`); at most `limit`.
    func offeredSimulcast(limit: Int) -> [(rid: String, paused: Bool)] {
        guard let value = attribute("simulcast") else { return [] }
        let declared = Set(attributes("rid").compactMap { line -> String? in
            let parts = line.split(separator: " ")
            return parts.count >= 2 && parts[1] == "send" ? String(parts[0]) : nil
        })
        let words = value.split(separator: " ")
        guard let send = words.firstIndex(of: "send"), send + 1 < words.count else { return [] }
        let streams = words[send + 1].split(separator: ";").compactMap { $0.split(separator: ",").first }.map { stream in
            stream.hasPrefix("~") ? (rid: String(stream.dropFirst()), paused: true) : (rid: String(stream), paused: false)
        }
        return Array(streams.filter { declared.contains($0.rid) }.prefix(limit))
    }
}

extension SessionDescription {
    /// The receive-only answer to `offer`: every audio/video m-line with a codec we take is
    /// accepted `recvonly` with only those codecs (and RTX pointing at them), the feedback and
    /// extensions we handle; any other m-line (data channels, unknown codecs, plain RTP) is
    /// rejected with port 0, not a failure. Throws when the offer cannot be answered at all.
    public static func receiveOnlyAnswer(to offer: SessionDescription,
                                         options: AnswerOptions) throws(SDPError) -> (answer: SessionDescription, media: [AnsweredMedia]) {
        guard !offer.media.isEmpty else { throw SDPError(line: 1, reason: "offer has no m-lines") }
        // BUNDLEd m-lines share the transport of the group's tagged m-line (RFC 8843).
        let bundle = Set(offer.bundleMids)
        let bundleFingerprint = offer.media.first { $0.mid.map(bundle.contains) == true && $0.attribute("fingerprint") != nil }?
            .attribute("fingerprint")
        let sessionFingerprint = offer.attribute("fingerprint")
        var sections: [SDPMediaSection] = []
        var answered: [AnsweredMedia] = []
        for (index, m) in offer.media.enumerated() {
            let mid = m.mid ?? String(index)
            let wanted = m.media == "audio" ? options.audioCodecs : m.media == "video" ? options.videoCodecs : []
            var reason: String?
            if wanted.isEmpty { reason = "\(m.media) is not recorded" }
            else if !m.proto.contains("SAVPF") { reason = "transport \(m.proto) is not DTLS-SRTP" }
            else if m.port == 0 { reason = "rejected by the offerer" }
            else if (m.attribute("fingerprint") ?? sessionFingerprint ?? (m.mid.map(bundle.contains) == true ? bundleFingerprint : nil)) == nil {
                reason = "no DTLS fingerprint"
            }
            var chosen: [SDPPayloadFormat] = []
            if reason == nil {
                let offered = m.payloadFormats
                for format in offered where wanted.contains(where: { $0.lowercased() == format.encodingName.lowercased() }) {
                    var kept = format
                    kept.feedback = format.feedback.filter { options.feedback.contains($0) }
                    chosen.append(kept)
                }
                let media = Set(chosen.map(\.payloadType))
                for format in offered where format.encodingName.lowercased() == "rtx" {
                    if let apt = format.parameter("apt").flatMap(UInt8.init), media.contains(apt) { chosen.append(format) }
                }
                if media.isEmpty { reason = "no codec we record (offered: \(offered.map(\.encodingName).joined(separator: ", ")))" }
            }
            if let reason {
                sections.append(SDPMediaSection(media: m.media, port: 0, proto: m.proto, formats: Array(m.formats.prefix(1)),
                                                connection: "IN IP4 0.0.0.0", attributes: [SDPAttribute("mid", mid)]))
                answered.append(AnsweredMedia(mid: mid, kind: m.media, payloadFormats: nil, rejection: reason, ssrcs: []))
                continue
            }
            var attributes = [
                SDPAttribute("mid", mid),
                SDPAttribute("ice-ufrag", options.iceUfrag), SDPAttribute("ice-pwd", options.icePwd),
                SDPAttribute("ice-options", "trickle"),
                SDPAttribute("fingerprint", options.fingerprint), SDPAttribute("setup", options.setup),
            ]
            for (id, uri) in m.headerExtensions.sorted(by: { $0.key < $1.key }) where options.headerExtensions.contains(uri) {
                attributes.append(SDPAttribute("extmap", "\(id) \(uri)"))
            }
            let direction = ["sendonly", "sendrecv"].contains(m.direction) ? "recvonly" : "inactive"
            attributes += [SDPAttribute(direction), SDPAttribute("rtcp-mux"), SDPAttribute("rtcp-rsize")]
            for format in chosen {
                let channels = format.channels.map { "/\($0)" } ?? ""
                attributes.append(SDPAttribute("rtpmap", "\(format.payloadType) \(format.encodingName)/\(format.clockRate)\(channels)"))
                for fb in format.feedback { attributes.append(SDPAttribute("rtcp-fb", "\(format.payloadType) \(fb)")) }
                if !format.parameters.isEmpty {
                    let text = format.parameters.map { $0.value.isEmpty ? $0.key : "\($0.key)=\($0.value)" }.joined(separator: ";")
                    attributes.append(SDPAttribute("fmtp", "\(format.payloadType) \(text)"))
                }
            }
            // Simulcast (RFC 8853): receive every offered layer (up to three), as offered.
            let rids = m.media == "video" ? m.offeredSimulcast(limit: 3) : []
            if !rids.isEmpty {
                attributes += rids.map { SDPAttribute("rid", "\($0.rid) recv") }
                attributes.append(SDPAttribute("simulcast", "recv " + rids.map { ($0.paused ? "~" : "") + $0.rid }.joined(separator: ";")))
            }
            attributes += options.candidates.map { SDPAttribute("candidate", $0) }
            sections.append(SDPMediaSection(media: m.media, port: 9, proto: m.proto, formats: chosen.map { String($0.payloadType) },
                                            connection: "IN IP4 0.0.0.0", attributes: attributes))
            answered.append(AnsweredMedia(mid: mid, kind: m.media, payloadFormats: chosen, rejection: nil, ssrcs: m.ssrcs.map(\.ssrc),
                                          rids: rids.map(\.rid)))
        }
        let accepted = answered.filter { $0.payloadFormats != nil }.map(\.mid)
        guard !accepted.isEmpty else {
            throw SDPError(line: 1, reason: "nothing in the offer can be recorded: " + answered.compactMap { media in media.rejection.map { "\(media.mid): \($0)" } }.joined(separator: "; "))
        }
        let session = [SDPAttribute("group", "BUNDLE " + accepted.joined(separator: " ")), SDPAttribute("msid-semantic", " WMS")]
        let answer = SessionDescription(sessionLines: ["v=0", "o=flowrec \(options.sessionID) \(options.sessionVersion) IN IP4 127.0.0.1", "s=flowrec", "t=0 0"],
                                        attributes: session, media: sections)
        return (answer, answered)
    }
}
