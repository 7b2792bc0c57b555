import DTLS
import ICE
import Media
import RTP
import SDP
import SRTP

/// Which DTLS role to take when the offer leaves the choice (`a=setup:actpass`).
public enum DTLSRolePreference: String, Sendable, CaseIterable {
    /// Client (`a=setup:active`), as RFC 8842 §5.3 advises an answerer.
    case auto
    case client
    case server
}

/// How a receiving peer behaves.
public struct PeerOptions: Sendable {
    public var ice = ICEAgentOptions()
    public var dtlsRole: DTLSRolePreference = .auto
    public var srtpProfiles: [SRTPProfile] = [.aeadAes128Gcm, .aes128CmSha1_80]
    /// The first DTLS retransmission comes this soon (then doubling): a first flight sent before the
    /// remote side is ready is not left for OpenSSL's default second.
    public var dtlsInitialRetransmitMillis = 200
    /// The most announced with REMB to senders that take it and no transport-cc feedback; what is
    /// announced follows what arrives and what is lost (``RembEstimator``).
    public var rembBitsPerSecond: UInt64 = 2_500_000
    /// Receiver reports (with REMB and SDES) this often.
    public var reportIntervalMicros: Int64 = 1_000_000
    /// At most one keyframe request per stream this often.
    public var keyframeRequestIntervalMicros: Int64 = 500_000
    /// The CNAME of our (never sending) RTCP source.
    public var cname = "flowrec"
    /// A connection whose media (ICE and DTLS) is not up this long after the first call fails, so an
    /// offer that can never connect (no candidates, a vanished peer) does not hold its slot; nil: no limit.
    public var connectTimeoutMicros: Int64? = 15_000_000

    public init() {}
}

/// Something the peer's owner should know.
public enum PeerEvent: Sendable, Equatable {
    case iceStateChanged(ICEConnectionState)
    /// DTLS finished and SRTP keys are in place: media flows from here.
    case connected
    /// The connection is gone for good (ICE failed or consent lost, DTLS failed or closed by the peer).
    case failed(String)
}

/// A decrypted packet from the remote peer.
public struct ReceivedPacket: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case rtp, rtcp }
    public var kind: Kind
    /// The packet as it was sent (RTX already turned back into the original packet).
    public var bytes: [UInt8]
    /// The codec of an RTP packet, from its payload type.
    public var codec: Codec?
    /// The m-line the packet belongs to (for RTCP: that of its first report's SSRC), when known.
    public var mid: String?
    public var arrivalMicros: Int64
    public var from: STUNAddress
}

/// What a peer counted.
public struct PeerStats: Sendable, Equatable {
    public var rtpPackets = 0
    public var rtcpPackets = 0
    /// Packets that arrived through RTX after a NACK and filled a hole.
    public var repairedPackets = 0
    public var nackedPackets = 0
    public var nackGivenUp = 0
    public var pliSent = 0
    public var firSent = 0
    public var reportsSent = 0
    /// Transport-cc feedback packets sent (to senders that number their packets for it).
    public var transportFeedbackSent = 0
    /// Times the set of a simulcast sender's flowing layers changed (each asked every flowing layer for a keyframe).
    public var layerChanges = 0
    /// The latest bitrate announced with REMB (0 when none was sent).
    public var rembBitsPerSecond: UInt64 = 0
    public var srtpAuthFailures = 0
    public var srtpReplays = 0
    public var malformed = 0
    /// RTP with a payload type not in the answer.
    public var unknownPayloadType = 0
    /// Cumulative loss reported for each media SSRC (expected − received, before repair).
    public var lost = 0
}

/// A receive-only WebRTC peer connection, sans-IO: answers an offer, then takes datagrams and
/// time and returns datagrams to send, decrypted packets and events.
///
/// Inside: an ``ICEAgent`` (controlled, full agent), a ``DTLSEndpoint`` started once ICE has a
/// pair, two ``SRTPSession``s from the exported keys, RTX unwrapping, reception statistics and
/// receiver reports, NACK with RTT-aware retries, and PLI/FIR when a stream starts or cannot be
/// repaired. Not thread-safe: one owner (a driver's event loop) calls it.
public final class PeerConnection {
    /// The latest answer to send back (SDP text).
    public private(set) var answer: String
    public private(set) var negotiated: NegotiatedMedia
    /// Our ICE credentials (new ones after an ICE restart).
    public private(set) var localCredentials: ICECredentials
    public private(set) var stats = PeerStats()
    public private(set) var isConnected = false
    public private(set) var failure: String?
    /// The publisher's address on the selected ICE pair, once there is one.
    public var remoteAddress: STUNAddress? { ice.selectedPair?.remote.address }
    /// DTLS records discarded unread since the handshake (forged or malformed: RFC 6347 §4.1.2.7).
    public var dtlsRecordsDiscarded: Int { dtls.discardedRecords }
    /// Every local candidate is known: the host ones from the start, the relayed one (with
    /// `options.ice.turnServer`) once the TURN server answered or was given up.
    public var isGatheringComplete: Bool { ice.isGatheringComplete }

    private let options: PeerOptions
    /// What every answer is made from: credentials, fingerprint, role, candidates, o= line.
    private var answerTemplate: AnswerOptions
    private let ice: ICEAgent
    private let dtls: DTLSEndpoint
    private var dtlsStarted = false
    private var inbound: SRTPSession?
    private var outbound: SRTPSession?
    private var streams: [UInt32: InboundStream] = [:]
    private let localSSRC: UInt32
    private var nextReportMicros: Int64?
    private var transmits: [ICETransmit] = []
    private var received: [ReceivedPacket] = []
    private var events: [PeerEvent] = []
    /// The latest time given to `receive` or `poll`.
    private var lastNowMicros: Int64 = 0
    /// When an unconnected peer fails: `connectTimeoutMicros` after the first `receive` or `poll`.
    private var connectDeadlineMicros: Int64?
    private var trickled: [String] = []
    private var transportFeedback = TransportFeedbackGenerator()
    /// Simulcast layers learned from the rid header extensions: "mid/rid" → SSRC, RTX SSRC → layer SSRC.
    private var layerSSRCs: [String: UInt32] = [:]
    private var rtxOfLayers: [UInt32: UInt32] = [:]
    /// Per video m-line with layers, the ones flowing at the last look, and when to look again.
    private var flowingLayers: [String: Set<UInt32>] = [:]
    private var nextLayerCheckMicros: Int64 = .min
    private var rembEstimate: RembEstimator
    /// Each video stream's (expected, lost) at the last report: the loss the REMB estimate follows.
    private var lossBaseline: [UInt32: (expected: Int64, lost: Int64)] = [:]

    /// Answers `offer` (SDP text). `hostAddresses` are the addresses of the one UDP socket the
    /// driver reads for this peer; they become our host candidates.
    public init(offer: String, hostAddresses: [STUNAddress], certificate: DTLSCertificate, options: PeerOptions = PeerOptions(),
                credentials: ICECredentials = .random()) throws(PeerError) {
        self.options = options
        // libsrtp's first use costs 150 ms (see `SRTPSession.prepare()`): spent here, before any media.
        SRTPSession.prepare()
        rembEstimate = RembEstimator(ceiling: options.rembBitsPerSecond)
        let parsed = try Self.parse(offer)
        let remoteSetup = parsed.media.lazy.compactMap { $0.attribute("setup") }.first ?? parsed.attribute("setup") ?? "actpass"
        let role: DTLSRole
        switch (remoteSetup, options.dtlsRole) {
        case ("active", _): role = .server
        case ("passive", _): role = .client
        case (_, .server): role = .server
        default: role = .client
        }
        let ice = ICEAgent(role: .controlled, local: credentials, options: options.ice)
        let candidates = hostAddresses.compactMap { ice.addLocalHostCandidate($0) }
        // With a TURN server the relayed candidate comes later (see `takeTrickledCandidates`).
        ice.gatherRelayed()
        ice.finishGathering()
        localCredentials = credentials
        answerTemplate = AnswerOptions(iceUfrag: credentials.ufrag, icePwd: credentials.pwd,
                                       fingerprint: "sha-256 " + certificate.fingerprintSHA256,
                                       setup: role == .client ? "active" : "passive",
                                       candidates: candidates.map(\.sdpValue),
                                       sessionID: UInt64.random(in: 1...UInt64(Int64.max)))
        (answer, negotiated) = try Self.answer(parsed, options: answerTemplate)
        guard let fingerprint = negotiated.remoteFingerprint else { throw PeerError("offer has no a=fingerprint") }
        guard let ufrag = negotiated.remoteUfrag, let pwd = negotiated.remotePwd else { throw PeerError("offer has no a=ice-ufrag/a=ice-pwd") }
        if let problem = OfferCheck.problem(parsed, credentials: (ufrag, pwd), mustSend: true) { throw PeerError("offer: \(problem)") }
        do {
            dtls = try DTLSEndpoint(role: role, certificate: certificate, remoteFingerprint: fingerprint,
                                    options: DTLSEndpoint.Options(srtpProfiles: options.srtpProfiles,
                                                                  initialRetransmitMillis: options.dtlsInitialRetransmitMillis))
        } catch { throw PeerError("DTLS: \(error.reason)") }
        ice.setRemoteCredentials(ICECredentials(ufrag: ufrag, pwd: pwd))
        self.ice = ice
        localSSRC = UInt32.random(in: 1...UInt32.max)
        for line in negotiated.remoteCandidates { addRemoteCandidate(line) }
    }

    /// Answers a new offer on this connection (renegotiation: m-lines added, removed or reused, as a
    /// Janus subscription does when publishers come and go). The DTLS association and the streams'
    /// state carry on; new remote ICE credentials restart ICE with new local ones.
    public func renegotiate(offer: String, nowMicros: Int64) throws(PeerError) -> String {
        let parsed = try Self.parse(offer)
        var template = answerTemplate
        template.sessionVersion += 1
        let probe = NegotiatedMedia(offer: parsed, answered: [])
        let credentials = probe.remoteUfrag.flatMap { ufrag in probe.remotePwd.map { (ufrag, $0) } }
        if let problem = OfferCheck.problem(parsed, credentials: credentials, mustSend: false) { throw PeerError("offer: \(problem)") }
        if let fingerprint = probe.remoteFingerprint, fingerprint.lowercased() != negotiated.remoteFingerprint?.lowercased() {
            throw PeerError("renegotiation changes the DTLS fingerprint; that needs a new connection")
        }
        var restart: ICECredentials?
        if let ufrag = probe.remoteUfrag, let pwd = probe.remotePwd, ufrag != negotiated.remoteUfrag {
            let fresh = ICECredentials.random()
            template.iceUfrag = fresh.ufrag
            template.icePwd = fresh.pwd
            restart = ICECredentials(ufrag: ufrag, pwd: pwd)
            localCredentials = fresh
        }
        let (text, media) = try Self.answer(parsed, options: template)
        answerTemplate = template
        answer = text
        negotiated = media
        if let remote = restart { ice.restart(local: localCredentials, remote: remote, nowMicros: nowMicros) }
        for line in negotiated.remoteCandidates { addRemoteCandidate(line) }
        return text
    }

    /// ICE restart from a trickle fragment (WHIP PATCH, RFC 9725 §4.4): the remote side's new
    /// credentials; returns the answer fragment with ours and our candidates. Media keeps flowing
    /// over the old pair until the new one is selected.
    public func restartICE(remote: ICECredentials, nowMicros: Int64) -> String {
        let fresh = ICECredentials.random()
        localCredentials = fresh
        answerTemplate.iceUfrag = fresh.ufrag
        answerTemplate.icePwd = fresh.pwd
        negotiated.remoteUfrag = remote.ufrag
        negotiated.remotePwd = remote.pwd
        ice.restart(local: fresh, remote: remote, nowMicros: nowMicros)
        return (["a=ice-ufrag:\(fresh.ufrag)", "a=ice-pwd:\(fresh.pwd)"] + answerTemplate.candidates.map { "a=candidate:\($0)" })
            .joined(separator: "\r\n") + "\r\n"
    }

    private static func parse(_ offer: String) throws(PeerError) -> SessionDescription {
        do { return try SessionDescription(parsing: offer) } catch { throw PeerError("offer: \(error)") }
    }

    private static func answer(_ offer: SessionDescription, options: AnswerOptions) throws(PeerError) -> (String, NegotiatedMedia) {
        do {
            let answered = try SessionDescription.receiveOnlyAnswer(to: offer, options: options)
            return (answered.answer.serialized, NegotiatedMedia(offer: offer, answered: answered.media))
        } catch {
            throw PeerError("offer cannot be answered: \(error)")
        }
    }

    /// Adds a trickled remote candidate (`a=candidate` value, with or without the `candidate:` prefix).
    /// Candidates that cannot be used (TCP, mDNS names, malformed) are ignored.
    public func addRemoteCandidate(_ line: String) {
        guard let candidate = try? ICECandidate(sdpValue: line) else { return }
        ice.addRemoteCandidate(candidate)
    }

    /// Local candidates gathered after the answer was made (the relayed one), as `a=candidate`
    /// values, each returned once: the driver trickles them (Janus `trickle`; a WHIP server cannot
    /// push them). Later answers (renegotiation, ICE restart fragments) include them.
    public func takeTrickledCandidates() -> [String] {
        defer { trickled.removeAll() }
        return trickled
    }

    /// Takes one datagram from the socket.
    public func receive(_ datagram: [UInt8], from: STUNAddress, nowMicros: Int64) {
        lastNowMicros = nowMicros
        startConnectClock(nowMicros)
        switch ice.receive(datagram, from: from, nowMicros: nowMicros) {
        case .handled(let replies): transmits += replies
        case .dropped: break
        case .applicationData(let data, let source): receiveApplicationData(data, from: source, nowMicros: nowMicros)
        }
        collectICE(nowMicros: nowMicros)
    }

    /// Runs the timers that are due: ICE checks and consent, DTLS retransmissions, NACKs, reports.
    public func poll(nowMicros: Int64) {
        lastNowMicros = nowMicros
        startConnectClock(nowMicros)
        transmits += ice.poll(nowMicros: nowMicros)
        collectICE(nowMicros: nowMicros)
        if dtlsStarted, !isConnected, failure == nil, let due = dtls.nextTimeoutMillis, due <= nowMicros / 1000 {
            sendDTLS(dtls.handleTimeout(nowMillis: nowMicros / 1000))
            if case .failed(let reason) = dtls.state { fail("DTLS: \(reason)") }
        }
        if !isConnected, failure == nil, let deadline = connectDeadlineMicros, nowMicros >= deadline {
            fail(connectTimeoutReason)
        }
        guard isConnected else { return }
        sendNacks(nowMicros: nowMicros)
        sendTransportFeedback(nowMicros: nowMicros)
        if !layerSSRCs.isEmpty { watchLayers(nowMicros: nowMicros) }
        // A video stream without a keyframe yet (it started mid-stream, or a request went unanswered) asks again.
        for (ssrc, stream) in streams where stream.awaitsKeyframe { requestKeyframe(ssrc: ssrc, nowMicros: nowMicros) }
        if let next = nextReportMicros, nowMicros >= next {
            sendReports(nowMicros: nowMicros)
            nextReportMicros = nowMicros + options.reportIntervalMicros
        }
    }

    /// When `poll` should next be called.
    public var nextDeadlineMicros: Int64? {
        var deadlines = [ice.nextDeadlineMicros, nextReportMicros, isConnected ? transportFeedback.nextDeadline : nil,
                         isConnected && !layerSSRCs.isEmpty ? nextLayerCheckMicros : nil]
        if dtlsStarted, !isConnected, let millis = dtls.nextTimeoutMillis { deadlines.append(millis * 1000) }
        if !isConnected, failure == nil { deadlines.append(connectDeadlineMicros) }
        for stream in streams.values {
            deadlines.append(stream.nacks?.nextDeadline())
            if isConnected, stream.awaitsKeyframe {
                deadlines.append((stream.lastKeyframeRequestMicros ?? 0) + options.keyframeRequestIntervalMicros)
            }
        }
        return deadlines.compactMap { $0 }.min()
    }

    /// Everything produced since the last call: datagrams to send, decrypted packets, events.
    public func takeOutput() -> (transmits: [ICETransmit], packets: [ReceivedPacket], events: [PeerEvent]) {
        defer {
            transmits.removeAll(keepingCapacity: true)
            received.removeAll(keepingCapacity: true)
            events.removeAll(keepingCapacity: true)
        }
        return (transmits, received, events)
    }

    /// Asks the sender of `ssrc` for a keyframe now (decoder trouble), within the request throttle.
    public func requestKeyframe(ssrc: UInt32, nowMicros: Int64) {
        guard var stream = streams[ssrc], stream.codec.kind == .video,
              stream.mayRequestKeyframe(nowMicros: nowMicros, interval: options.keyframeRequestIntervalMicros) else { return }
        sendKeyframeRequest(&stream)
        streams[ssrc] = stream
    }

    /// Sends RTCP BYE and DTLS close_notify; the peer is unusable afterwards.
    public func close() {
        if isConnected { sendRTCP([.goodbye(Goodbye(ssrcs: [localSSRC], reason: "recording ended"))]) }
        for record in dtls.close() { if let t = ice.send(record) { transmits.append(t) } }
        transmits += ice.close()   // releases a TURN allocation
        isConnected = false
    }

    /// Packet counts per incoming media SSRC: (codec, packets, repaired, cumulative lost).
    public var streamSummaries: [(ssrc: UInt32, codec: Codec, packets: Int, repaired: Int, lost: Int64)] {
        streams.values.sorted { $0.ssrc < $1.ssrc }.map { ($0.ssrc, $0.codec, $0.packets, $0.repaired, $0.statistics.cumulativeLost) }
    }

    // MARK: - Internals

    private func collectICE(nowMicros: Int64) {
        for event in ice.takeEvents() {
            switch event {
            case .stateChanged(let state):
                events.append(.iceStateChanged(state))
                if state == .failed { fail("ICE failed (no usable pair, or consent lost)") }
            case .selectedPair:
                guard !dtlsStarted else { continue }
                dtlsStarted = true
                sendDTLS(dtls.start(nowMillis: nowMicros / 1000))
            case .localCandidate(let candidate):
                let line = candidate.sdpValue
                guard !answerTemplate.candidates.contains(line) else { continue }
                answerTemplate.candidates.append(line)
                trickled.append(line)
            default: break
            }
        }
    }

    private func receiveApplicationData(_ data: [UInt8], from: STUNAddress, nowMicros: Int64) {
        switch DatagramKind(data) {
        case .dtls:
            if !dtlsStarted { dtlsStarted = true }  // the remote client may start before our ICE selected a pair
            let result = dtls.receive(data, nowMillis: nowMicros / 1000)
            sendDTLS(result.outgoing)
            if let keys = result.connected { startSRTP(keys, nowMicros: nowMicros) }
            if let reason = result.failure { fail("DTLS: \(reason)") }
            if result.closed { fail("the peer closed DTLS") }
        case .rtp: receiveRTP(data, from: from, nowMicros: nowMicros)
        case .rtcp: receiveRTCP(data, from: from, nowMicros: nowMicros)
        case .stun, .unknown: stats.malformed += 1
        }
    }

    private func startSRTP(_ keys: SRTPKeyingMaterial, nowMicros: Int64) {
        do {
            inbound = try SRTPSession(profileID: keys.profile.rawValue, key: keys.remoteKey, salt: keys.remoteSalt, inbound: true)
            outbound = try SRTPSession(profileID: keys.profile.rawValue, key: keys.localKey, salt: keys.localSalt, inbound: false)
        } catch {
            fail("SRTP: \(error)")
            return
        }
        isConnected = true
        nextReportMicros = nowMicros + options.reportIntervalMicros
        events.append(.connected)
    }

    private func receiveRTP(_ data: [UInt8], from: STUNAddress, nowMicros: Int64) {
        guard let inbound else { return }
        let clear: [UInt8]
        do { clear = try inbound.unprotectRTP(data) } catch {
            if error.isReplay { stats.srtpReplays += 1 } else { stats.srtpAuthFailures += 1 }
            return
        }
        guard var packet = try? RTPPacket(parsing: clear) else {
            stats.malformed += 1
            return
        }
        // Every packet of the transport counts for congestion control: RTX, padding probes, unknown payload types.
        rembEstimate.received(bytes: data.count, nowMicros: nowMicros)
        if negotiated.sendsTransportFeedback, let id = negotiated.transportSequenceExtensionID,
           let sequence = packet.extensionData(id: id), sequence.count >= 2 {
            transportFeedback.received(sequenceNumber: UInt16(sequence[0]) << 8 | UInt16(sequence[1]), arrivalMicros: nowMicros)
            if transportFeedback.nextDeadline.map({ $0 <= nowMicros }) == true { sendTransportFeedback(nowMicros: nowMicros) }
        }
        var viaRTX = false
        if let apt = negotiated.rtxPayloadTypes[packet.payloadType] {
            learnRepairedLayer(of: packet)
            guard let mediaSSRC = negotiated.rtxSSRCs[packet.ssrc] ?? rtxOfLayers[packet.ssrc] ?? onlyStream(payloadType: apt),
                  let original = RTXUnwrap.original(of: packet, payloadType: apt, ssrc: mediaSSRC) else { return }
            packet = original
            viaRTX = true
        }
        guard let codec = negotiated.codecs[packet.payloadType] else {
            stats.unknownPayloadType += 1
            return
        }
        var stream = streams[packet.ssrc] ?? InboundStream(ssrc: packet.ssrc, codec: codec, payloadType: packet.payloadType,
                                                           nack: negotiated.nackPayloadTypes.contains(packet.payloadType))
        let isNew = streams[packet.ssrc] == nil
        if stream.mid == nil { stream.mid = negotiated.midOfSSRC[packet.ssrc] ?? midExtension(of: packet) }
        if stream.rid == nil, !viaRTX, layerSSRCs.count < Self.maxLayers, let mid = stream.mid,
           let rid = text(of: packet, extension: negotiated.ridExtensionID) {
            stream.rid = rid
            layerSSRCs[mid + "/" + rid] = packet.ssrc
        }
        let deliver = stream.received(packet, viaRTX: viaRTX, nowMicros: nowMicros)
        // A new video stream asks for a keyframe at once: the recording starts without waiting for the next one.
        if isNew, codec.kind == .video, stream.mayRequestKeyframe(nowMicros: nowMicros, interval: options.keyframeRequestIntervalMicros) {
            sendKeyframeRequest(&stream)
        }
        streams[packet.ssrc] = stream
        guard deliver else { return }
        if viaRTX { stats.repairedPackets += 1 }
        stats.rtpPackets += 1
        received.append(ReceivedPacket(kind: .rtp, bytes: viaRTX ? packet.serialized() : clear, codec: codec, mid: stream.mid,
                                       arrivalMicros: nowMicros, from: from))
    }

    private func midExtension(of packet: RTPPacket) -> String? { text(of: packet, extension: negotiated.midExtensionID) }

    /// The text of an SDES header extension (MID, rid), when negotiated and present.
    private func text(of packet: RTPPacket, extension id: UInt8?) -> String? {
        guard let id, let bytes = packet.extensionData(id: id), !bytes.isEmpty, bytes.count <= 64 else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// An RTX packet naming the layer it repairs (`repaired-rtp-stream-id`, RFC 8852): its SSRC
    /// repairs that layer's (simulcast senders announce no `ssrc-group:FID`).
    private func learnRepairedLayer(of packet: RTPPacket) {
        guard rtxOfLayers[packet.ssrc] == nil, rtxOfLayers.count < Self.maxLayers,
              let rid = text(of: packet, extension: negotiated.repairedRidExtensionID),
              let mid = midExtension(of: packet) ?? negotiated.midOfSSRC[packet.ssrc], let media = layerSSRCs[mid + "/" + rid] else { return }
        rtxOfLayers[packet.ssrc] = media
    }

    /// Simulcast: when the set of a video m-line's layers that are flowing changes (the sender paused
    /// or resumed one), every flowing layer is asked for a keyframe, so the recording can switch to
    /// the best one at once (see `VideoLayerSelector`).
    private func watchLayers(nowMicros: Int64) {
        guard nowMicros >= nextLayerCheckMicros else { return }
        nextLayerCheckMicros = nowMicros + Self.layerCheckMicros
        var layersOfMid: [String: [UInt32]] = [:]
        for (ssrc, stream) in streams where stream.codec.kind == .video && stream.rid != nil {
            if let mid = stream.mid { layersOfMid[mid, default: []].append(ssrc) }
        }
        for (mid, ssrcs) in layersOfMid where ssrcs.count > 1 {
            let flowing = Set(ssrcs.filter { nowMicros - streams[$0]!.lastArrivalMicros < Self.layerStallMicros })
            guard let before = flowingLayers.updateValue(flowing, forKey: mid), before != flowing else { continue }
            stats.layerChanges += 1
            for ssrc in flowing.sorted() { requestKeyframe(ssrc: ssrc, nowMicros: nowMicros) }
        }
    }

    /// A simulcast layer without a packet this long has stopped; layers are looked at this often.
    static let layerStallMicros: Int64 = 300_000
    static let layerCheckMicros: Int64 = 100_000
    /// Layers (and their RTX) learned at most, whatever a peer's SSRCs and rids: three per video
    /// m-line is what is answered.
    static let maxLayers = 32

    /// The simulcast layers by rid, per m-line: "mid/rid" → SSRC.
    public var simulcastLayers: [String: UInt32] { layerSSRCs }

    /// The one stream a payload type has been seen on (RTX without an `ssrc-group:FID`).
    private func onlyStream(payloadType: UInt8) -> UInt32? {
        let matching = streams.values.filter { $0.payloadType == payloadType }
        return matching.count == 1 ? matching[0].ssrc : nil
    }

    private func receiveRTCP(_ data: [UInt8], from: STUNAddress, nowMicros: Int64) {
        guard let inbound else { return }
        let clear: [UInt8]
        do { clear = try inbound.unprotectRTCP(data) } catch {
            if error.isReplay { stats.srtpReplays += 1 } else { stats.srtpAuthFailures += 1 }
            return
        }
        guard let packets = try? RTCP.parseCompound(clear) else {
            stats.malformed += 1
            return
        }
        var mid: String?
        for case .senderReport(let report) in packets {
            streams[report.ssrc]?.statistics.receivedSenderReport(ntpTimestamp: report.ntpTimestamp, arrivalMicros: nowMicros)
            mid = mid ?? streams[report.ssrc]?.mid ?? negotiated.midOfSSRC[report.ssrc]
        }
        stats.rtcpPackets += 1
        received.append(ReceivedPacket(kind: .rtcp, bytes: clear, codec: nil, mid: mid, arrivalMicros: nowMicros, from: from))
    }

    private func sendNacks(nowMicros: Int64) {
        var feedback: [RTCPPacket] = []
        for ssrc in streams.keys {
            guard var nacks = streams[ssrc]!.nacks, let deadline = nacks.nextDeadline(), deadline <= nowMicros else { continue }
            let (request, givenUp) = nacks.due(nowMicros: nowMicros)
            streams[ssrc]!.nacks = nacks
            if !request.isEmpty {
                feedback.append(.nack(GenericNACK(senderSSRC: localSSRC, mediaSSRC: ssrc, lost: request)))
                stats.nackedPackets += request.count
            }
            if !givenUp.isEmpty {
                stats.nackGivenUp += givenUp.count
                // What NACK could not repair needs a new keyframe.
                streams[ssrc]!.keyframeNeeded()
                requestKeyframe(ssrc: ssrc, nowMicros: nowMicros)
            }
        }
        if !feedback.isEmpty {
            let about = feedback.compactMap { packet -> UInt32? in if case .nack(let nack) = packet { nack.mediaSSRC } else { nil } }
            sendFeedback(feedback, about: about, nowMicros: nowMicros)
        }
    }

    /// Transport-cc feedback when due, alone in its packet (reduced-size RTCP, RFC 5506): it goes
    /// 20 times a second and the sender needs nothing else with it.
    private func sendTransportFeedback(nowMicros: Int64) {
        guard negotiated.sendsTransportFeedback else { return }
        let media = streams.values.first(where: { $0.codec.kind == .video })?.ssrc ?? streams.keys.min() ?? 0
        for feedback in transportFeedback.due(nowMicros: nowMicros, senderSSRC: localSSRC, mediaSSRC: media) {
            sendRTCP([.transportFeedback(feedback)])
            stats.transportFeedbackSent += 1
        }
    }

    private func sendKeyframeRequest(_ stream: inout InboundStream) {
        if negotiated.pliPayloadTypes.contains(stream.payloadType) || !negotiated.firPayloadTypes.contains(stream.payloadType) {
            sendFeedback([.pictureLossIndication(senderSSRC: localSSRC, mediaSSRC: stream.ssrc)], about: [stream.ssrc], nowMicros: nil)
            stats.pliSent += 1
        } else {
            stream.firSequence &+= 1
            sendFeedback([.fullIntraRequest(FIR(senderSSRC: localSSRC, entries: [FIREntry(ssrc: stream.ssrc, sequenceNumber: stream.firSequence)]))],
                         about: [stream.ssrc], nowMicros: nil)
            stats.firSent += 1
        }
    }

    /// Feedback as a compound packet that starts with a receiver report (RFC 4585 §3.1): the
    /// report block names the media SSRC, which is how an SFU such as Janus tells which of its
    /// streams a PLI or NACK from a receive-only peer is about (that peer announces no SSRC).
    private func sendFeedback(_ feedback: [RTCPPacket], about ssrcs: [UInt32], nowMicros: Int64?) {
        var blocks: [ReceptionReport] = []
        for ssrc in ssrcs {
            if let block = streams[ssrc]?.statistics.makeReport(nowMicros: nowMicros ?? lastNowMicros) { blocks.append(block) }
        }
        sendRTCP([.receiverReport(ReceiverReport(ssrc: localSSRC, reports: Array(blocks.prefix(31))))] + feedback)
    }

    /// A receiver report for every stream (31 per packet at most), SDES CNAME and, when the
    /// sender takes it, REMB with the configured bitrate.
    private func sendReports(nowMicros: Int64) {
        var blocks: [ReceptionReport] = []
        var lost = 0
        var expectedVideo: Int64 = 0, lostVideo: Int64 = 0
        for ssrc in streams.keys.sorted() {
            if let block = streams[ssrc]!.statistics.makeReport(nowMicros: nowMicros) { blocks.append(block) }
            let statistics = streams[ssrc]!.statistics
            lost += Int(max(0, statistics.cumulativeLost))
            if streams[ssrc]!.codec.kind == .video {
                let before = lossBaseline[ssrc] ?? (0, 0)
                expectedVideo += statistics.expected - before.expected
                lostVideo += statistics.cumulativeLost - before.lost
                lossBaseline[ssrc] = (statistics.expected, statistics.cumulativeLost)
            }
        }
        stats.lost = lost
        var packets: [RTCPPacket] = []
        var rest = blocks[...]
        repeat {
            packets.append(.receiverReport(ReceiverReport(ssrc: localSSRC, reports: Array(rest.prefix(31)))))
            rest = rest.dropFirst(31)
        } while !rest.isEmpty
        packets.append(.sourceDescription([SDESChunk(ssrc: localSSRC, items: [SDESItem(type: SDESItem.cnameType, text: options.cname)])]))
        let video = streams.values.filter { $0.codec.kind == .video }.map(\.ssrc).sorted()
        if negotiated.remb, !negotiated.sendsTransportFeedback, !video.isEmpty {
            let fraction = expectedVideo > 0 ? Double(max(0, lostVideo)) / Double(expectedVideo) : 0
            let bitrate = rembEstimate.update(nowMicros: nowMicros, fractionLost: fraction)
            packets.append(.remb(REMB(senderSSRC: localSSRC, bitrate: bitrate, ssrcs: video)))
            stats.rembBitsPerSecond = bitrate
        }
        sendRTCP(packets)
        stats.reportsSent += 1
    }

    private func sendRTCP(_ packets: [RTCPPacket]) {
        guard let outbound, let protected = try? outbound.protectRTCP(RTCP.serialize(packets)),
              let transmit = ice.send(protected) else { return }
        transmits.append(transmit)
    }

    private func sendDTLS(_ records: [[UInt8]]) {
        for record in records { if let transmit = ice.send(record) { transmits.append(transmit) } }
    }

    private func startConnectClock(_ nowMicros: Int64) {
        guard connectDeadlineMicros == nil, let timeout = options.connectTimeoutMicros else { return }
        connectDeadlineMicros = nowMicros + timeout
    }

    /// Why the connection never came up: which step it was waiting for.
    private var connectTimeoutReason: String {
        let tenths = (options.connectTimeoutMicros ?? 0) / 100_000
        let seconds = tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
        let step: String
        if ice.remoteCandidates.isEmpty && ice.selectedPair == nil {
            step = "no remote candidate was given or reached us"
        } else if ice.selectedPair == nil {
            step = "ICE found no working pair"
        } else {
            step = "the DTLS handshake did not finish"
        }
        return "not connected within \(seconds) s: \(step)"
    }

    private func fail(_ reason: String) {
        guard failure == nil else { return }
        failure = reason
        isConnected = false
        events.append(.failed(reason))
    }
}

/// A peer-connection failure: the offer cannot be answered, or the handshake failed.
public struct PeerError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
