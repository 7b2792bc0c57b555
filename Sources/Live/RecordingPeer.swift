import DTLS
import ICE
import Peer

/// The sans-IO half of a recorded peer connection: a ``PeerConnection`` whose decrypted packets go
/// to their participants' captures (``CaptureRouter``, and the live outputs), with the counters of
/// ``PeerSessionSummary``. Datagrams and time go in, datagrams to send come out; ``wakeMicros(now:)``
/// says when to call ``poll(nowMicros:)`` next. ``PeerSession`` drives it from a SwiftNIO socket on
/// the real clock, the soak driver from an in-memory network on a virtual one.
///
/// Not thread-safe: one owner calls it.
public final class RecordingPeer {
    /// The session's name (in the summary and the logs).
    public let id: String
    /// The participant (WHIP), or nil for a connection carrying several (a Janus subscription).
    public let participant: String?
    /// The first SDP answer.
    public let answer: String
    /// The publisher's ICE username fragment (a PATCH with another one is an ICE restart).
    public private(set) var remoteUfrag: String?
    public private(set) var isClosed = false
    private let peer: PeerConnection
    private let captures: CaptureRouter
    /// Added to `nowMicros` (the protocol clock) to give the capture clock (µs since the epoch).
    private let wallOffsetMicros: Int64
    private var counters: PeerSessionSummary
    /// Called once when the connection fails for good (ICE, consent, DTLS, the connect timeout).
    private var onFailure: ((String) -> Void)?
    /// Called once when media can flow, with the publisher's address.
    private var onConnected: ((String?) -> Void)?

    /// Answers `offer` with candidates on `hostAddresses` and writes captures into `captureFolder`
    /// (all for `participant`, or by m-line once ``route(_:nowMicros:)`` says whose each is), passing
    /// each packet on to `liveOutputs` too. `wallOffsetMicros` turns the protocol clock (`nowMicros`
    /// of every call) into the capture clock; captures name `captureAddress` (default: the first
    /// host address) as the packets' destination.
    public init(id: String, participant: String?, offer: String, hostAddresses: [STUNAddress], certificate: DTLSCertificate,
                options: PeerOptions, captureFolder: String, captureSuffix: String = "", liveOutputs: LiveOutputs? = nil,
                captureAddress: STUNAddress? = nil, nowMicros: Int64, wallOffsetMicros: Int64,
                onConnected: ((String?) -> Void)? = nil, onFailure: ((String) -> Void)? = nil) throws(PeerError) {
        self.id = id
        self.participant = participant
        self.wallOffsetMicros = wallOffsetMicros
        self.onConnected = onConnected
        self.onFailure = onFailure
        peer = try PeerConnection(offer: offer, hostAddresses: hostAddresses, certificate: certificate, options: options)
        answer = peer.answer
        remoteUfrag = peer.negotiated.remoteUfrag
        let local = captureAddress ?? hostAddresses.first ?? STUNAddress(ip: "0.0.0.0", port: 0)
        captures = CaptureRouter(folder: captureFolder, local: local, defaultParticipant: participant, suffix: captureSuffix,
                                 outputs: liveOutputs)
        counters = PeerSessionSummary(session: id, participant: participant, remoteAddress: nil, joinedMicros: nowMicros + wallOffsetMicros,
                                      connected: false, captures: [], rtpPackets: 0, rtcpPackets: 0,
                                      lostPackets: 0, nackedPackets: 0, repairedPackets: 0, pliSent: 0, srtpAuthFailures: 0)
    }

    /// Takes one datagram from `from`; returns what to send.
    public func receive(_ datagram: [UInt8], from: STUNAddress, nowMicros: Int64) -> [ICETransmit] {
        guard !isClosed else { return [] }
        peer.receive(datagram, from: from, nowMicros: nowMicros)
        return drive(now: nowMicros)
    }

    /// Runs the timers that are due (ICE, DTLS, NACK, reports) and the capture flush; returns what to send.
    public func poll(nowMicros: Int64) -> [ICETransmit] {
        guard !isClosed else { return [] }
        peer.poll(nowMicros: nowMicros)
        return drive(now: nowMicros)
    }

    /// When to call ``poll(nowMicros:)`` next: the peer's next deadline, and at least every 100 ms
    /// for the capture flush (never sooner than 1 ms from `now`).
    public func wakeMicros(now: Int64) -> Int64 {
        max(now + 1_000, min(peer.nextDeadlineMicros ?? .max, now + 100_000))
    }

    /// Adds trickled remote candidates (`a=candidate` values); returns what to send.
    public func addRemoteCandidates(_ lines: [String], nowMicros: Int64) -> [ICETransmit] {
        for line in lines { peer.addRemoteCandidate(line) }
        return drive(now: nowMicros)
    }

    /// Asks every video sender on this connection for a keyframe (a segment boundary, `--segment`),
    /// within the peer's request throttle; returns what to send.
    public func requestKeyframes(nowMicros: Int64) -> [ICETransmit] {
        for stream in peer.streamSummaries where stream.codec.kind == .video {
            peer.requestKeyframe(ssrc: stream.ssrc, nowMicros: nowMicros)
        }
        return drive(now: nowMicros)
    }

    /// Which participant each m-line carries from now on.
    public func route(_ mids: [String: String], nowMicros: Int64) {
        captures.route(mids, nowMicros: nowMicros)
        captures.resolve(midOfSSRC: peer.negotiated.midOfSSRC, nowMicros: nowMicros)
    }

    /// Answers a new offer on this connection (renegotiation); returns the answer and what to send.
    public func renegotiate(offer: String, nowMicros: Int64) throws(PeerError) -> (answer: String, transmits: [ICETransmit]) {
        let answer = try peer.renegotiate(offer: offer, nowMicros: nowMicros)
        captures.resolve(midOfSSRC: peer.negotiated.midOfSSRC, nowMicros: nowMicros)
        return (answer, drive(now: nowMicros))
    }

    /// ICE restart with the publisher's new credentials; returns our answer fragment and what to send.
    public func restartICE(ufrag: String, pwd: String, nowMicros: Int64) -> (fragment: String, transmits: [ICETransmit]) {
        remoteUfrag = ufrag
        let fragment = peer.restartICE(remote: ICECredentials(ufrag: ufrag, pwd: pwd), nowMicros: nowMicros)
        return (fragment, drive(now: nowMicros))
    }

    /// Sends BYE and close_notify (returned), closes the captures; the summary's leave time is
    /// `wallMicros`. Later calls return nothing.
    public func close(wallMicros: Int64) -> [ICETransmit] {
        guard !isClosed else { return [] }
        peer.close()
        let goodbye = peer.takeOutput().transmits
        isClosed = true
        captures.close()
        counters.leftMicros = wallMicros
        return goodbye
    }

    /// What the connection counted so far.
    public var summary: PeerSessionSummary {
        let stats = peer.stats
        var summary = counters
        summary.captures = captures.summaries
        summary.rtpPackets = stats.rtpPackets
        summary.rtcpPackets = stats.rtcpPackets
        summary.lostPackets = peer.streamSummaries.reduce(0) { $0 + Int(max(0, $1.lost)) }
        summary.nackedPackets = stats.nackedPackets
        summary.repairedPackets = stats.repairedPackets
        summary.pliSent = stats.pliSent
        summary.srtpAuthFailures = stats.srtpAuthFailures
        summary.transportFeedbackSent = stats.transportFeedbackSent > 0 ? stats.transportFeedbackSent : nil
        summary.rembBitsPerSecond = stats.rembBitsPerSecond > 0 ? Int(stats.rembBitsPerSecond) : nil
        summary.simulcastLayers = peer.simulcastLayers.isEmpty ? nil : peer.simulcastLayers
        summary.dtlsRecordsDiscarded = peer.dtlsRecordsDiscarded > 0 ? peer.dtlsRecordsDiscarded : nil
        return summary
    }

    /// Hands what the peer produced to the captures, notes events; returns the datagrams to send.
    private func drive(now: Int64) -> [ICETransmit] {
        guard !isClosed else { return [] }
        let output = peer.takeOutput()
        for packet in output.packets {
            captures.write(packet, wallMicros: packet.arrivalMicros + wallOffsetMicros, nowMicros: now)
            if counters.remoteAddress == nil { counters.remoteAddress = packet.from.description }
        }
        for event in output.events {
            switch event {
            case .connected:
                counters.connected = true
                onConnected?(peer.remoteAddress?.description)
                onConnected = nil
            case .failed(let reason):
                counters.failure = reason
                onFailure?(reason)
                onFailure = nil
            case .iceStateChanged: break
            }
        }
        captures.flushIfDue(nowMicros: now)
        return output.transmits
    }
}
