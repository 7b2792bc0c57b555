import DTLS
import Foundation
import Ingest
import Janus
import Logging
import NIOCore
import NIOPosix
import Peer
import Pipeline

/// `flowrec record --janus URL --room ID`: which room of which Janus.
public struct JanusRecordOptions: Sendable {
    /// `ws://host:8188` (WebSocket) or `http://host:8088/janus` (long-poll).
    public var url: String
    public var room: JanusRoomID
    public var pin: String?
    /// A second room of the same Janus whose publishers share their screens (as FreeFlow Connect
    /// does): recorded into the same outputs, each as `<display>-screen`, shown large by the
    /// speaker layout.
    public var screenRoom: JanusRoomID?
    /// The recorder's display name in the room (it never publishes, so participants do not see a tile).
    public var displayName = "flowrec-recorder"
    public var apiSecret: String?
    public var token: String?
    /// Reconnect after a dropped socket, claiming the same Janus session.
    public var reconnect = false
    public var recording: LiveRecordingOptions

    public init(url: String, room: JanusRoomID, recording: LiveRecordingOptions) {
        self.url = url
        self.room = room
        self.recording = recording
    }
}

/// The room could not be reached or joined: the server does not answer, the room does not exist,
/// the pin is wrong. Nothing was recorded.
public struct RoomUnavailable: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Records a Janus videoroom as a silent subscriber of every publisher, then writes the outputs
/// from the raw captures.
public enum JanusRecordJob {
    /// Runs until `stop`, a limit or the room's end; `logger` gets progress, with the room as metadata.
    public static func run(_ options: JanusRecordOptions, stop: StopRequest,
                           logger: Logger = .silent) async throws -> (manifest: RecordManifest, path: String) {
        var logger = logger
        logger[metadataKey: "room"] = "\(options.room)"
        let common = options.recording
        let recording = try Recording(options: common, room: options.room.description, source: "janus")
        let hosts = common.candidateHosts.isEmpty ? Recording.hostAddresses() : common.candidateHosts
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let certificate = try DTLSCertificate.generate()
        let metricsServer = try await recording.serveMetrics(group: group, logger: logger)
        var recorders: [JanusRoomRecorder] = []
        var clients: [JanusClient] = []
        for (room, suffix) in [(options.room, "")] + (options.screenRoom.map { [($0, ParticipantNames.screenShareSuffix)] } ?? []) {
            var follower = JanusFollowerConfig(room: room, pin: options.pin, displayName: options.displayName)
            follower.apiSecret = options.apiSecret
            follower.token = options.token
            let client = JanusClient(options: JanusClientOptions(url: options.url, follower: follower, reconnect: options.reconnect))
            do { try await client.start() } catch {
                for started in clients { await started.stop() }
                await metricsServer?.stop()
                try? await group.shutdownGracefully()
                recording.abandon()  // nothing was recorded
                throw RoomUnavailable(description: "Janus room \(room) at \(options.url): \(error)")
            }
            clients.append(client)
            recorders.append(JanusRoomRecorder(options: common, hosts: hosts, captureFolder: recording.captureFolder, liveOutputs: recording.liveOutputs, group: group,
                                               certificate: certificate, client: client, nameSuffix: suffix, logger: logger))
        }
        logger.info("""
            recording Janus room \(options.room)\(options.screenRoom.map { " (screens: room \($0))" } ?? "") at \(options.url); \
            ICE host candidates \(hosts.joined(separator: ", "))
            """)
        let following = zip(recorders, clients).map { recorder, client in Task { await recorder.follow(client.events) } }
        let main = recorders[0], screens = recorders.dropFirst().first
        let reason = await recording.waitForStop(stop, snapshot: {
            var snapshot = MetricsSnapshot()
            for recorder in recorders {
                let (summaries, present) = await recorder.status()
                for summary in summaries { snapshot.add(summary) }
                snapshot.participants += present
            }
            return snapshot
        }, check: {
            if let ended = await main.ended { return ended }
            // Empty: nobody publishing in the room, nor sharing a screen, for long enough.
            guard var since = await main.emptySinceMicros else { return nil }
            if let screens {
                guard let screensSince = await screens.emptySinceMicros else { return nil }
                since = max(since, screensSince)
            }
            return recording.emptyLongEnough(since: since) ? .empty : nil
        }, keyframes: {
            for recorder in recorders { await recorder.requestKeyframes() }
        })
        logger.info("stopping (\(reason.rawValue))", metadata: ["reason": "\(reason.rawValue)"])
        for task in following { task.cancel() }
        var connections: [PeerSessionSummary] = [], participants: [RecordedParticipant] = [], warnings: [String] = []
        for (recorder, client) in zip(recorders, clients) {
            await client.stop()
            let (c, p, w) = await recorder.finish()
            connections += c
            participants += p
            warnings += w
        }
        let finished = Result { try recording.finish(reason, participants: participants, connections: connections, warnings: warnings, logger: logger) }
        await metricsServer?.stop()
        try? await group.shutdownGracefully()
        let manifest = try finished.get()
        return (manifest, recording.manifestPath)
    }
}

/// Follows the room's events: answers Janus's offers with one ``PeerSession`` (renegotiated as
/// publishers come and go, replaced after a session reset), routes each m-line to its publisher's
/// capture, and keeps who was present when.
actor JanusRoomRecorder {
    private struct Publisher {
        var name: String
        var display: String?
        var joinedMicros: Int64
        var leftMicros: Int64?
    }

    private let options: LiveRecordingOptions
    private let hosts: [String]
    private let captureFolder: String
    private let liveOutputs: LiveOutputs?
    private let group: any EventLoopGroup
    private let client: JanusClient
    private let certificate: DTLSCertificate
    /// Added to every participant name (`-screen` for the screen-share room).
    private let nameSuffix: String
    private let logger: Logger
    private var session: PeerSession?
    private var sessionCount = 0
    private var needsNewSession = false
    private var closedSessions: [PeerSessionSummary] = []
    private var publishers: [JanusFeedID: Publisher] = [:]
    /// Since when nobody has published (the start until the first publisher), nil while someone does.
    private(set) var emptySinceMicros: Int64? = LiveClock.monotonicMicros()
    /// Why the room ended the recording (destroyed, kicked, server lost), if it did.
    private(set) var ended: StopReason?
    private var warnings: [String] = []

    init(options: LiveRecordingOptions, hosts: [String], captureFolder: String, liveOutputs: LiveOutputs?, group: any EventLoopGroup,
         certificate: DTLSCertificate, client: JanusClient, nameSuffix: String, logger: Logger) {
        self.options = options
        self.hosts = hosts
        self.captureFolder = captureFolder
        self.liveOutputs = liveOutputs
        self.group = group
        self.certificate = certificate
        self.client = client
        self.nameSuffix = nameSuffix
        self.logger = logger
    }

    func follow(_ events: AsyncStream<JanusEvent>) async {
        for await event in events {
            await handle(event)
        }
    }

    private func handle(_ event: JanusEvent) async {
        switch event {
        case .offer(let sdp, let streams):
            await answer(sdp, streams: streams)
        case .remoteCandidate(_, _, let candidate):
            session?.addRemoteCandidates([candidate])
        case .publishers(let list):
            updatePublishers(list)
        case .sessionReset:
            needsNewSession = true
            warnings.append("the Janus session was lost (server restarted?) and set up again; what came before is kept")
            logger.warning("the Janus session was lost and set up again")
        case .hangup(let reason):
            needsNewSession = true
            warnings.append("Janus hung up the subscription: \(reason)")
        case .roomDestroyed, .kicked:
            ended = .roomClosed
        case .connectionLost(let reason):
            warnings.append("Janus connection lost: \(reason)")
            ended = .serverLost
        case .error(let code, let reason):
            warnings.append("Janus error \(code): \(reason)")
            ended = .serverLost
        case .warning(let code, let reason):
            warnings.append("Janus refused a request (\(code)): \(reason)")
        case .joined, .endOfCandidates, .webrtcUp, .media, .slowLink:
            break
        }
    }

    /// Answers an offer: on the current connection (renegotiation) or on a new one.
    private func answer(_ sdp: String, streams: [JanusSubscribedStream]) async {
        var routes: [String: String] = [:]
        for stream in streams where stream.active {
            guard let feed = stream.feedID else { continue }
            routes[stream.mid] = name(of: feed, display: stream.feedDisplay)
        }
        do {
            let answer: String
            if let current = session, !needsNewSession {
                current.route(routes)  // before the answer: Janus may forward on a new m-line at once
                answer = try await current.renegotiate(offer: sdp)
            } else {
                if let old = session { closedSessions.append(await old.close()) }
                sessionCount += 1
                let opened = try await PeerSession.open(
                    id: "janus\(nameSuffix)-\(sessionCount)", participant: nil, offer: sdp, group: group,
                    bindHost: hosts.count == 1 ? hosts[0] : "0.0.0.0", ports: options.udpPorts, hostAddresses: hosts,
                    certificate: certificate, options: options.peer, captureFolder: captureFolder,
                    captureSuffix: sessionCount == 1 ? "" : "@\(sessionCount)", liveOutputs: liveOutputs, onFailure: { _ in })
                session = opened
                needsNewSession = false
                answer = opened.answer
            }
            session?.route(routes)
            try await client.answer(sdp: answer)
            await client.trickle(candidate: nil, mid: nil)
            logger.info("answered Janus's offer: \(Set(routes.values).sorted().joined(separator: ", "))",
                        metadata: ["connection": "\(session?.id ?? "")"])
        } catch {
            warnings.append("could not answer Janus's offer: \(error)")
            logger.warning("could not answer Janus's offer: \(error)")
        }
    }

    /// The file name of a publisher: its display name (made unique with its id when two share one).
    private func name(of feed: JanusFeedID, display: String?) -> String {
        if let known = publishers[feed] { return known.name }
        var name = display.map { safeFileName($0) } ?? "feed-\(feed)"
        if publishers.values.contains(where: { $0.name == name + nameSuffix }) { name += "-\(feed)" }
        name += nameSuffix
        publishers[feed] = Publisher(name: name, display: display, joinedMicros: LiveClock.wallMicros())
        logger.info("publisher joined", metadata: publisherMetadata(feed))
        return name
    }

    private func updatePublishers(_ list: [JanusPublisher]) {
        let now = LiveClock.wallMicros()
        let present = Set(list.map(\.id))
        for publisher in list {
            _ = name(of: publisher.id, display: publisher.display)
            if publishers[publisher.id]?.leftMicros != nil { logger.info("publisher joined", metadata: publisherMetadata(publisher.id)) }
            publishers[publisher.id]?.leftMicros = nil
        }
        for (id, entry) in publishers where !present.contains(id) && entry.leftMicros == nil {
            publishers[id]?.leftMicros = now
            logger.info("publisher left", metadata: publisherMetadata(id))
        }
        emptySinceMicros = list.isEmpty ? (emptySinceMicros ?? LiveClock.monotonicMicros()) : nil
    }

    /// A publisher's participant name, Janus id and display name, for log lines.
    private func publisherMetadata(_ feed: JanusFeedID) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["participant": "\(publishers[feed]?.name ?? "")", "janus_id": "\(feed)"]
        if let display = publishers[feed]?.display { metadata["display"] = "\(display)" }
        return metadata
    }

    /// Asks every publisher for a keyframe (through Janus).
    func requestKeyframes() { session?.requestKeyframes() }

    /// Every connection's summary so far and how many publishers are present, for the metrics.
    func status() async -> ([PeerSessionSummary], Int) {
        var summaries = closedSessions
        if let session { summaries.append(await session.currentSummary()) }
        return (summaries, publishers.values.filter { $0.leftMicros == nil }.count)
    }

    /// Closes the connection; returns every connection's summary, the participants and warnings.
    func finish() async -> ([PeerSessionSummary], [RecordedParticipant], [String]) {
        if let session { closedSessions.append(await session.close()) }
        session = nil
        var packets: [String: Int] = [:]
        for capture in closedSessions.flatMap(\.captures) { packets[capture.participant, default: 0] += capture.packets }
        let end = LiveClock.wallMicros()
        let participants = publishers.sorted { $0.value.joinedMicros < $1.value.joinedMicros }.map { id, p in
            RecordedParticipant(name: p.name, display: p.display, janusID: id.description, joinedAt: Recording.iso8601(micros: p.joinedMicros),
                                leftAt: Recording.iso8601(micros: p.leftMicros ?? end), packets: packets[p.name] ?? 0)
        }
        return (closedSessions, participants, warnings)
    }
}
