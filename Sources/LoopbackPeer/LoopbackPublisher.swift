/// Module `LoopbackPeer`: a WebRTC publisher made of the project's own parts, for tests and the
/// soak driver — a controlling ``ICEAgent``, a ``DTLSEndpoint`` and an SRTP sender — that talks to
/// a receiving ``PeerConnection`` through whatever in-memory network its owner runs, on any clock.
import DTLS
import ICE
import Peer
import RTP
import SRTP

/// Why a ``LoopbackPublisher`` cannot go on (an answer it cannot read).
public struct LoopbackError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The sending side of a WebRTC connection, sans-IO: offers an Opus m-line and a VP8 m-line (with
/// RTX and NACK/PLI feedback), reads the answer, runs ICE (controlling) and DTLS, then protects
/// the RTP and RTCP its owner hands it. NACKs that come back are answered at once through RTX from
/// a bounded history of the video stream's packets; the rest of the feedback is kept in
/// ``feedback`` until the owner empties it.
public final class LoopbackPublisher {
    /// The SSRCs and payload types the offer announces.
    public struct Streams: Sendable, Equatable {
        /// Opus (mid 0), VP8 (mid 1) and the VP8 stream's RTX (`a=ssrc-group:FID`).
        public var audioSSRC: UInt32 = 1111
        public var videoSSRC: UInt32 = 2222
        public var rtxSSRC: UInt32 = 3333
        public var audioPayloadType: UInt8 = 111
        public var videoPayloadType: UInt8 = 96
        /// RTX with `apt` the video payload type.
        public var rtxPayloadType: UInt8 = 97

        /// The defaults above.
        public init() {}
    }

    /// Our one host candidate.
    public let address: STUNAddress
    /// Our ICE username fragment and password (in the offer).
    public let credentials: ICECredentials
    public let streams: Streams
    /// Our DTLS certificate (its fingerprint is in the offer).
    public let certificate: DTLSCertificate
    /// The controlling ICE agent (tests restart it).
    public let ice: ICEAgent
    /// Made by ``accept(answer:)``, in the role the answer leaves us.
    public private(set) var dtls: DTLSEndpoint?
    /// Set once DTLS is done: the outbound SRTP session, and the inbound one for SRTCP feedback.
    public private(set) var srtp: SRTPSession?
    public private(set) var srtcpIn: SRTPSession?
    /// RTCP received from the recorder (receiver reports, NACK, PLI, REMB…), in order; it grows
    /// until the owner empties it.
    public var feedback: [RTCPPacket] = []
    /// Why DTLS failed, if it did.
    public private(set) var failed: String?
    /// Video packets answered through RTX.
    public private(set) var retransmitted = 0

    /// The last ``historyCapacity`` video packets sent (clear), by sequence number, for RTX.
    private var history: [UInt16: [UInt8]] = [:]
    private var historyOrder: [UInt16] = []
    private var historyNext = 0
    private var rtxSequence: UInt16 = 1000
    /// Video packets kept for retransmission (about 10 s of a 50-packet/s stream).
    public static let historyCapacity = 512

    /// A publisher at `address` with ICE credentials `credentials` and a fresh DTLS certificate.
    public init(address: STUNAddress = STUNAddress(ip: "10.0.0.2", port: 5000),
                credentials: ICECredentials = ICECredentials(ufrag: "pubU", pwd: "publisherpassword0123456"),
                streams: Streams = Streams()) throws {
        self.address = address
        self.credentials = credentials
        self.streams = streams
        certificate = try DTLSCertificate.generate()
        ice = ICEAgent(role: .controlling, local: credentials)
        ice.addLocalHostCandidate(address)
        ice.finishGathering()
    }

    /// The SDP offer: audio (mid 0) and video (mid 1) with the announced SSRCs; `nack: false`
    /// leaves out the video's feedback, `secondVideo` adds a third m-line (mid 2, VP8 on SSRC 4444).
    public func offer(setup: String = "actpass", fingerprint: String? = nil, nack: Bool = true, secondVideo: Bool = false) -> String {
        let fp = fingerprint ?? certificate.fingerprintSHA256
        let s = streams
        let v = s.videoPayloadType
        let transport = "c=IN IP4 0.0.0.0\r\n"
        func common(mid: Int) -> String {
            "\(transport)a=mid:\(mid)\r\na=sendonly\r\na=rtcp-mux\r\n"
                + "a=ice-ufrag:\(credentials.ufrag)\r\na=ice-pwd:\(credentials.pwd)\r\na=fingerprint:sha-256 \(fp)\r\na=setup:\(setup)\r\n"
        }
        let feedback = nack ? "a=rtcp-fb:\(v) nack\r\na=rtcp-fb:\(v) nack pli\r\na=rtcp-fb:\(v) goog-remb\r\n" : ""
        return "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\(secondVideo ? " 2" : "")\r\n"
            + "m=audio 9 UDP/TLS/RTP/SAVPF \(s.audioPayloadType)\r\n" + common(mid: 0)
            + "a=rtpmap:\(s.audioPayloadType) opus/48000/2\r\na=ssrc:\(s.audioSSRC) cname:pub\r\n"
            + "a=candidate:1 1 udp 2130706431 \(address.ip) \(address.port) typ host\r\n"
            + "m=video 9 UDP/TLS/RTP/SAVPF \(v) \(s.rtxPayloadType)\r\n" + common(mid: 1)
            + "a=rtpmap:\(v) VP8/90000\r\n\(feedback)a=rtpmap:\(s.rtxPayloadType) rtx/90000\r\na=fmtp:\(s.rtxPayloadType) apt=\(v)\r\n"
            + "a=ssrc-group:FID \(s.videoSSRC) \(s.rtxSSRC)\r\na=ssrc:\(s.videoSSRC) cname:pub\r\na=ssrc:\(s.rtxSSRC) cname:pub\r\n"
            + (secondVideo ? "m=video 9 UDP/TLS/RTP/SAVPF \(v)\r\n" + common(mid: 2) + "a=rtpmap:\(v) VP8/90000\r\na=ssrc:4444 cname:other\r\n" : "")
    }

    /// Reads the answer: remote ICE credentials, candidates and the DTLS role it leaves us.
    public func accept(answer: String) throws {
        let lines = answer.split(separator: "\r\n").map(String.init)
        func value(_ prefix: String) throws -> String {
            guard let line = lines.first(where: { $0.hasPrefix(prefix) }) else { throw LoopbackError("the answer has no \(prefix)") }
            return String(line.dropFirst(prefix.count))
        }
        ice.setRemoteCredentials(ICECredentials(ufrag: try value("a=ice-ufrag:"), pwd: try value("a=ice-pwd:")))
        for line in lines where line.hasPrefix("a=candidate:") { ice.addRemoteCandidate(try ICECandidate(sdpValue: line)) }
        let fingerprint = try value("a=fingerprint:sha-256 ")
        let role: DTLSRole = (try? value("a=setup:")) == "active" ? .server : .client
        dtls = try DTLSEndpoint(role: role, certificate: certificate, remoteFingerprint: fingerprint)
    }

    /// Takes one datagram from the recorder; returns what to send back (ICE, DTLS, RTX).
    public func receive(_ datagram: [UInt8], from: STUNAddress, now: Int64) -> [ICETransmit] {
        var out: [ICETransmit] = []
        switch ice.receive(datagram, from: from, nowMicros: now) {
        case .handled(let replies): out += replies
        case .dropped: break
        case .applicationData(let data, _):
            if DatagramKind(data) == .dtls, let dtls {
                let events = dtls.receive(data, nowMillis: now / 1000)
                out += events.outgoing.compactMap { ice.send($0) }
                if let keys = events.connected {
                    srtp = try? SRTPSession(profileID: keys.profile.rawValue, key: keys.localKey, salt: keys.localSalt, inbound: false)
                    srtcpIn = try? SRTPSession(profileID: keys.profile.rawValue, key: keys.remoteKey, salt: keys.remoteSalt, inbound: true)
                }
                if let failure = events.failure { failed = failure }
            } else if DatagramKind(data) == .rtcp, let srtcpIn, let clear = try? srtcpIn.unprotectRTCP(data),
                      let packets = try? RTCP.parseCompound(clear) {
                feedback += packets
                for case .nack(let nack) in packets where nack.mediaSSRC == streams.videoSSRC {
                    out += nack.lost.compactMap { retransmit($0) }
                }
            }
        }
        return out
    }

    /// Runs the ICE and DTLS timers that are due; returns what to send.
    public func poll(now: Int64) -> [ICETransmit] {
        var out = ice.poll(nowMicros: now)
        for event in ice.takeEvents() {
            if case .selectedPair = event, let dtls, dtls.role == .client { out += dtls.start(nowMillis: now / 1000).compactMap { ice.send($0) } }
        }
        if let dtls, let due = dtls.nextTimeoutMillis, due <= now / 1000 { out += dtls.handleTimeout(nowMillis: now / 1000).compactMap { ice.send($0) } }
        return out
    }

    /// When ``poll(now:)`` should next be called (ICE checks and consent, DTLS retransmissions).
    public var nextDeadlineMicros: Int64? {
        [ice.nextDeadlineMicros, dtls?.nextTimeoutMillis.map { $0 * 1000 }].compactMap { $0 }.min()
    }

    /// Whether SRTP keys are in place (media can be sent).
    public var isConnected: Bool { srtp != nil }

    /// Protects one RTP packet (clear bytes) for sending; video packets are remembered for RTX.
    public func send(rtp clear: [UInt8]) -> ICETransmit? {
        if clear.count >= 12, clear[8...11].elementsEqual(bigEndian(streams.videoSSRC)) { remember(clear) }
        return protect(clear, rtcp: false)
    }

    /// Protects one RTCP compound packet (clear bytes) for sending.
    public func send(rtcp clear: [UInt8]) -> ICETransmit? { protect(clear, rtcp: true) }

    /// Sends RTCP BYE and DTLS close_notify, as a leaving publisher does.
    public func close() -> [ICETransmit] {
        var out = send(rtcp: RTCP.serialize([.goodbye(Goodbye(ssrcs: [streams.audioSSRC, streams.videoSSRC], reason: "leaving"))]))
            .map { [$0] } ?? []
        out += (dtls?.close() ?? []).compactMap { ice.send($0) }
        return out
    }

    /// RFC 4588 retransmission (RTX SSRC and payload type) of a video packet still in the history.
    public func retransmit(_ seq: UInt16) -> ICETransmit? {
        guard let clear = history[seq], let original = try? RTPPacket(parsing: clear) else { return nil }
        let rtx = RTPPacket(payloadType: streams.rtxPayloadType, sequenceNumber: rtxSequence, timestamp: original.timestamp,
                            ssrc: streams.rtxSSRC, marker: original.marker, payload: [UInt8(seq >> 8), UInt8(seq & 0xFF)] + Array(original.payload))
        rtxSequence &+= 1
        retransmitted += 1
        return protect(rtx.serialized(), rtcp: false)
    }

    private func remember(_ clear: [UInt8]) {
        let seq = UInt16(clear[2]) << 8 | UInt16(clear[3])
        if historyOrder.count < Self.historyCapacity {
            historyOrder.append(seq)
        } else {
            history[historyOrder[historyNext]] = nil
            historyOrder[historyNext] = seq
            historyNext = (historyNext + 1) % Self.historyCapacity
        }
        history[seq] = clear
    }

    private func protect(_ clear: [UInt8], rtcp: Bool) -> ICETransmit? {
        guard let srtp, let protected = try? (rtcp ? srtp.protectRTCP(clear) : srtp.protectRTP(clear)) else { return nil }
        return ice.send(protected)
    }

    private func bigEndian(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
}
