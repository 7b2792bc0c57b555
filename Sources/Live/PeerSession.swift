import DTLS
import ICE
import NIOCore
import NIOPosix
import Peer

/// What a finished (or still running) peer session counted.
public struct PeerSessionSummary: Sendable, Codable, Equatable {
    public var session: String
    /// The participant (WHIP), or nil for a connection carrying several (a Janus subscription).
    public var participant: String?
    public var remoteAddress: String?
    public var joinedMicros: Int64
    public var leftMicros: Int64?
    public var connected: Bool
    public var failure: String?
    public var captures: [CaptureSummary]
    public var rtpPackets: Int
    public var rtcpPackets: Int
    public var lostPackets: Int
    public var nackedPackets: Int
    public var repairedPackets: Int
    public var pliSent: Int
    public var srtpAuthFailures: Int
}

/// One peer connection: a UDP socket on a SwiftNIO event loop driving a ``PeerConnection``, with
/// every decrypted packet written to its participant's capture (``CaptureRouter``).
///
/// Confinement: all mutable state is touched only on `eventLoop` (the socket's), which is what
/// makes the `@unchecked Sendable` sound; public methods hop onto it.
final class PeerSession: @unchecked Sendable {
    let id: String
    let participant: String?
    let eventLoop: any EventLoop
    let localAddress: STUNAddress
    private let channel: any Channel
    private let peer: PeerConnection
    private let captures: CaptureRouter
    private let wallOffsetMicros: Int64
    private var timer: Scheduled<Void>?
    private var timerDeadline: Int64 = .max
    private var summary: PeerSessionSummary
    private var closed = false
    /// Called once on the event loop when the connection fails for good (ICE, consent, DTLS).
    private var onFailure: (@Sendable (String) -> Void)?

    /// Binds a UDP socket on `bindHost`, answers `offer` with candidates on `hostAddresses` and that
    /// socket's port, and writes captures into `captureFolder` (all for `participant`, or by m-line
    /// once ``route(_:)`` says whose each is), passing each packet on to `liveOutputs` too.
    static func open(id: String, participant: String?, offer: String, group: any EventLoopGroup, bindHost: String,
                     ports: ClosedRange<Int>?, hostAddresses: [String], certificate: DTLSCertificate, options: PeerOptions,
                     captureFolder: String, captureSuffix: String = "", liveOutputs: LiveOutputs? = nil,
                     onFailure: @escaping @Sendable (String) -> Void) async throws -> PeerSession {
        let router = DatagramRouter()
        let channel = try await bind(host: bindHost, ports: ports, group: group, router: router)
        guard let port = channel.localAddress?.port else {
            try? await channel.close()
            throw PeerError("UDP socket on \(bindHost) has no port")
        }
        do {
            return try await channel.eventLoop.submit {
                let session = try PeerSession(id: id, participant: participant, offer: offer, channel: channel,
                                              hosts: hostAddresses.map { STUNAddress(ip: $0, port: UInt16(port)) },
                                              certificate: certificate, options: options, captureFolder: captureFolder,
                                              captureSuffix: captureSuffix, liveOutputs: liveOutputs)
                session.onFailure = onFailure
                router.session = session
                session.reschedule(now: LiveClock.monotonicMicros())
                return session
            }.get()
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// A UDP socket on the first free port of `ports` (any port when nil).
    private static func bind(host: String, ports: ClosedRange<Int>?, group: any EventLoopGroup,
                             router: DatagramRouter) async throws -> any Channel {
        var lastError: (any Error)?
        for port in ports.map(Array.init) ?? [0] {
            do {
                return try await DatagramBootstrap(group: group)
                    .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(router) } }
                    .bind(host: host, port: port).get()
            } catch {
                lastError = error
            }
        }
        throw PeerError("no free UDP port on \(host)\(ports.map { " in \($0.lowerBound)-\($0.upperBound)" } ?? ""): \(lastError.map { "\($0)" } ?? "")")
    }

    private init(id: String, participant: String?, offer: String, channel: any Channel, hosts: [STUNAddress],
                 certificate: DTLSCertificate, options: PeerOptions, captureFolder: String, captureSuffix: String,
                 liveOutputs: LiveOutputs?) throws {
        self.id = id
        self.participant = participant
        self.channel = channel
        eventLoop = channel.eventLoop
        localAddress = hosts.first ?? STUNAddress(ip: "0.0.0.0", port: UInt16(channel.localAddress?.port ?? 0))
        peer = try PeerConnection(offer: offer, hostAddresses: hosts, certificate: certificate, options: options)
        answer = peer.answer
        remoteUfrag = peer.negotiated.remoteUfrag
        let now = LiveClock.monotonicMicros()
        wallOffsetMicros = LiveClock.wallMicros() - now
        captures = CaptureRouter(folder: captureFolder, local: localAddress, defaultParticipant: participant, suffix: captureSuffix,
                                 outputs: liveOutputs)
        summary = PeerSessionSummary(session: id, participant: participant, remoteAddress: nil, joinedMicros: now + wallOffsetMicros,
                                     connected: false, captures: [], rtpPackets: 0, rtcpPackets: 0,
                                     lostPackets: 0, nackedPackets: 0, repairedPackets: 0, pliSent: 0, srtpAuthFailures: 0)
    }

    /// The SDP answer.
    let answer: String
    /// The publisher's ICE username fragment (a PATCH with another one is an ICE restart).
    private(set) var remoteUfrag: String?

    /// Adds trickled remote candidates (`a=candidate` values).
    func addRemoteCandidates(_ lines: [String]) {
        eventLoop.execute {
            for line in lines { self.peer.addRemoteCandidate(line) }
            self.drive(now: LiveClock.monotonicMicros())
        }
    }

    /// Asks every video sender on this connection for a keyframe (a segment boundary, `--segment`),
    /// within the peer's request throttle.
    func requestKeyframes() {
        eventLoop.execute {
            let now = LiveClock.monotonicMicros()
            for stream in self.peer.streamSummaries where stream.codec.kind == .video {
                self.peer.requestKeyframe(ssrc: stream.ssrc, nowMicros: now)
            }
            self.drive(now: now)
        }
    }

    /// Which participant each m-line carries from now on.
    func route(_ mids: [String: String]) {
        eventLoop.execute {
            let now = LiveClock.monotonicMicros()
            self.captures.route(mids, nowMicros: now)
            self.captures.resolve(midOfSSRC: self.peer.negotiated.midOfSSRC, nowMicros: now)
        }
    }

    /// Answers a new offer on this connection (renegotiation).
    func renegotiate(offer: String) async throws -> String {
        try await eventLoop.submit {
            let answer = try self.peer.renegotiate(offer: offer, nowMicros: LiveClock.monotonicMicros())
            self.captures.resolve(midOfSSRC: self.peer.negotiated.midOfSSRC, nowMicros: LiveClock.monotonicMicros())
            self.drive(now: LiveClock.monotonicMicros())
            return answer
        }.get()
    }

    /// The publisher's current ICE username fragment.
    func currentRemoteUfrag() async -> String? {
        try? await eventLoop.submit { self.remoteUfrag }.get()
    }

    /// ICE restart with the publisher's new credentials; returns our answer fragment.
    func restartICE(ufrag: String, pwd: String) async throws -> String {
        try await eventLoop.submit {
            self.remoteUfrag = ufrag
            let fragment = self.peer.restartICE(remote: ICECredentials(ufrag: ufrag, pwd: pwd), nowMicros: LiveClock.monotonicMicros())
            self.drive(now: LiveClock.monotonicMicros())
            return fragment
        }.get()
    }

    /// Sends BYE and close_notify, closes the socket and the capture; returns the final summary.
    func close() async -> PeerSessionSummary {
        let result = try? await eventLoop.submit { () -> PeerSessionSummary in
            self.shutDown()
            return self.summary
        }.get()
        try? await channel.close()
        return result ?? summary
    }

    /// The summary so far.
    func currentSummary() async -> PeerSessionSummary {
        (try? await eventLoop.submit { self.updateSummary() }.get()) ?? summary
    }

    // MARK: - On the event loop

    fileprivate func receive(_ envelope: AddressedEnvelope<ByteBuffer>) {
        guard !closed, let ip = envelope.remoteAddress.ipAddress, let port = envelope.remoteAddress.port else { return }
        let now = LiveClock.monotonicMicros()
        let from = STUNAddress(ip: ip, port: UInt16(port))
        peer.receive(Array(buffer: envelope.data), from: from, nowMicros: now)
        drive(now: now)
    }

    private func drive(now: Int64) {
        guard !closed else { return }
        let output = peer.takeOutput()
        for packet in output.packets {
            captures.write(packet, wallMicros: packet.arrivalMicros + wallOffsetMicros, nowMicros: now)
            if summary.remoteAddress == nil { summary.remoteAddress = packet.from.description }
        }
        transmit(output.transmits)
        for event in output.events {
            switch event {
            case .connected: summary.connected = true
            case .failed(let reason):
                summary.failure = reason
                onFailure?(reason)
                onFailure = nil
            case .iceStateChanged: break
            }
        }
        captures.flushIfDue(nowMicros: now)
        reschedule(now: now)
    }

    private func transmit(_ transmits: [ICETransmit]) {
        guard !transmits.isEmpty else { return }
        for t in transmits {
            guard let address = try? SocketAddress(ipAddress: t.destination.ip, port: Int(t.destination.port)) else { continue }
            var buffer = channel.allocator.buffer(capacity: t.datagram.count)
            buffer.writeBytes(t.datagram)
            channel.write(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
        }
        channel.flush()
    }

    /// Wakes up for the peer's next deadline, and at least every 100 ms for the capture flush.
    private func reschedule(now: Int64) {
        let wanted = max(now + 1_000, min(peer.nextDeadlineMicros ?? .max, now + 100_000))
        guard wanted < timerDeadline || timer == nil else { return }
        timer?.cancel()
        timerDeadline = wanted
        timer = eventLoop.assumeIsolated().scheduleTask(in: .microseconds(wanted - now)) { [self] in
            timer = nil
            timerDeadline = .max
            let now = LiveClock.monotonicMicros()
            peer.poll(nowMicros: now)
            drive(now: now)
        }
    }

    private func updateSummary() -> PeerSessionSummary {
        let stats = peer.stats
        summary.captures = captures.summaries
        summary.rtpPackets = stats.rtpPackets
        summary.rtcpPackets = stats.rtcpPackets
        summary.lostPackets = peer.streamSummaries.reduce(0) { $0 + Int(max(0, $1.lost)) }
        summary.nackedPackets = stats.nackedPackets
        summary.repairedPackets = stats.repairedPackets
        summary.pliSent = stats.pliSent
        summary.srtpAuthFailures = stats.srtpAuthFailures
        return summary
    }

    private func shutDown() {
        guard !closed else { return }
        peer.close()
        transmit(peer.takeOutput().transmits)
        closed = true
        timer?.cancel()
        timer = nil
        captures.close()
        summary.leftMicros = LiveClock.wallMicros()
        _ = updateSummary()
    }
}

/// The socket's one handler: hands datagrams to the session once it exists.
private final class DatagramRouter: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    /// Set on the event loop once the session is made; datagrams before that are dropped.
    var session: PeerSession?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        session?.receive(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable and the like surface here; a UDP socket keeps going.
    }
}
