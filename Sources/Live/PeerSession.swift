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
    /// Transport-cc feedback packets sent (senders that offered transport-cc), and the latest REMB
    /// bitrate announced (senders that take REMB only).
    public var transportFeedbackSent: Int? = nil
    public var rembBitsPerSecond: Int? = nil
    /// A simulcast sender's layers: `mid/rid` → SSRC (the outputs' `video.layers` name the SSRCs).
    public var simulcastLayers: [String: UInt32]? = nil
    /// DTLS records discarded unread after the handshake (forged or malformed), when any were.
    public var dtlsRecordsDiscarded: Int? = nil
}

/// One peer connection: a UDP socket on a SwiftNIO event loop driving a ``RecordingPeer`` (the
/// sans-IO ``PeerConnection`` whose decrypted packets go to the participant's capture) on the real
/// clock.
///
/// Confinement: all mutable state is touched only on `eventLoop` (the socket's), which is what
/// makes the `@unchecked Sendable` sound; public methods hop onto it.
final class PeerSession: @unchecked Sendable {
    let id: String
    let participant: String?
    let eventLoop: any EventLoop
    private let channel: any Channel
    private let core: RecordingPeer
    private var timer: Scheduled<Void>?
    private var timerDeadline: Int64 = .max

    /// Binds a UDP socket on `bindHost`, answers `offer` with candidates on `hostAddresses` and that
    /// socket's port, and writes captures into `captureFolder` (all for `participant`, or by m-line
    /// once ``route(_:)`` says whose each is), passing each packet on to `liveOutputs` too.
    /// `onConnected` is called once on the event loop when media can flow (ICE and DTLS up), with the
    /// remote address; `onFailure` once when the connection fails for good.
    static func open(id: String, participant: String?, offer: String, group: any EventLoopGroup, bindHost: String,
                     ports: ClosedRange<Int>?, hostAddresses: [String], certificate: DTLSCertificate, options: PeerOptions,
                     captureFolder: String, captureSuffix: String = "", liveOutputs: LiveOutputs? = nil,
                     onConnected: (@Sendable (String?) -> Void)? = nil,
                     onFailure: @escaping @Sendable (String) -> Void) async throws -> PeerSession {
        let router = DatagramRouter()
        let channel = try await bind(host: bindHost, ports: ports, group: group, router: router)
        guard let port = channel.localAddress?.port else {
            try? await channel.close()
            throw PeerError("UDP socket on \(bindHost) has no port")
        }
        do {
            return try await channel.eventLoop.submit {
                let hosts = hostAddresses.map { STUNAddress(ip: $0, port: UInt16(port)) }
                let now = LiveClock.monotonicMicros()
                let core = try RecordingPeer(id: id, participant: participant, offer: offer, hostAddresses: hosts, certificate: certificate,
                                             options: options, captureFolder: captureFolder, captureSuffix: captureSuffix,
                                             liveOutputs: liveOutputs, captureAddress: hosts.first ?? STUNAddress(ip: "0.0.0.0", port: UInt16(port)),
                                             nowMicros: now, wallOffsetMicros: LiveClock.wallMicros() - now,
                                             onConnected: onConnected, onFailure: onFailure)
                let session = PeerSession(id: id, participant: participant, channel: channel, core: core)
                router.session = session
                session.reschedule(now: now)
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

    private init(id: String, participant: String?, channel: any Channel, core: RecordingPeer) {
        self.id = id
        self.participant = participant
        self.channel = channel
        eventLoop = channel.eventLoop
        self.core = core
        answer = core.answer
        initialSummary = core.summary
    }

    /// The summary when the session opened: what is reported if the event loop is gone.
    private let initialSummary: PeerSessionSummary

    /// The SDP answer.
    let answer: String

    /// Adds trickled remote candidates (`a=candidate` values).
    func addRemoteCandidates(_ lines: [String]) {
        eventLoop.execute {
            let now = LiveClock.monotonicMicros()
            self.send(self.core.addRemoteCandidates(lines, nowMicros: now), now: now)
        }
    }

    /// Asks every video sender on this connection for a keyframe (a segment boundary, `--segment`),
    /// within the peer's request throttle.
    func requestKeyframes() {
        eventLoop.execute {
            let now = LiveClock.monotonicMicros()
            self.send(self.core.requestKeyframes(nowMicros: now), now: now)
        }
    }

    /// Which participant each m-line carries from now on.
    func route(_ mids: [String: String]) {
        eventLoop.execute { self.core.route(mids, nowMicros: LiveClock.monotonicMicros()) }
    }

    /// Answers a new offer on this connection (renegotiation).
    func renegotiate(offer: String) async throws -> String {
        try await eventLoop.submit {
            let now = LiveClock.monotonicMicros()
            let (answer, transmits) = try self.core.renegotiate(offer: offer, nowMicros: now)
            self.send(transmits, now: now)
            return answer
        }.get()
    }

    /// The publisher's current ICE username fragment.
    func currentRemoteUfrag() async -> String? {
        try? await eventLoop.submit { self.core.remoteUfrag }.get()
    }

    /// ICE restart with the publisher's new credentials; returns our answer fragment.
    func restartICE(ufrag: String, pwd: String) async throws -> String {
        try await eventLoop.submit {
            let now = LiveClock.monotonicMicros()
            let (fragment, transmits) = self.core.restartICE(ufrag: ufrag, pwd: pwd, nowMicros: now)
            self.send(transmits, now: now)
            return fragment
        }.get()
    }

    /// Sends BYE and close_notify, closes the socket and the capture; returns the final summary.
    func close() async -> PeerSessionSummary {
        let result = try? await eventLoop.submit { () -> PeerSessionSummary in
            self.timer?.cancel()
            self.timer = nil
            self.transmit(self.core.close(wallMicros: LiveClock.wallMicros()))
            return self.core.summary
        }.get()
        try? await channel.close()
        return result ?? initialSummary
    }

    /// The summary so far.
    func currentSummary() async -> PeerSessionSummary {
        (try? await eventLoop.submit { self.core.summary }.get()) ?? initialSummary
    }

    // MARK: - On the event loop

    fileprivate func receive(_ envelope: AddressedEnvelope<ByteBuffer>) {
        guard !core.isClosed, let ip = envelope.remoteAddress.ipAddress, let port = envelope.remoteAddress.port else { return }
        let now = LiveClock.monotonicMicros()
        send(core.receive(Array(buffer: envelope.data), from: STUNAddress(ip: ip, port: UInt16(port)), nowMicros: now), now: now)
    }

    /// Sends what the core produced and wakes up for its next deadline.
    private func send(_ transmits: [ICETransmit], now: Int64) {
        guard !core.isClosed else { return }
        transmit(transmits)
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

    private func reschedule(now: Int64) {
        let wanted = core.wakeMicros(now: now)
        guard wanted < timerDeadline || timer == nil else { return }
        timer?.cancel()
        timerDeadline = wanted
        timer = eventLoop.assumeIsolated().scheduleTask(in: .microseconds(wanted - now)) { [self] in
            timer = nil
            timerDeadline = .max
            let now = LiveClock.monotonicMicros()
            send(core.poll(nowMicros: now), now: now)
        }
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
