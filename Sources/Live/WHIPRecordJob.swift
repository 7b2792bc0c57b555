import Foundation
import Jobs
import Logging
import NIOCore
import NIOPosix
import Pipeline
import WHIP

/// `flowrec record --whip`: what to listen on and which room.
public struct WHIPRecordOptions: Sendable {
    public var listenHost = "0.0.0.0"
    public var port: Int
    public var room: String
    public var token: String?
    public var maxParticipants = 16
    /// The soft descriptor limit the process runs under (see ``DescriptorLimit``): it bounds the
    /// WHIP server's HTTP connections.
    public var descriptorLimit = 1_024
    public var recording: LiveRecordingOptions

    public init(port: Int, room: String, recording: LiveRecordingOptions) {
        self.port = port
        self.room = room
        self.recording = recording
    }
}

/// Records a room whose publishers come over WHIP, then writes the outputs from the raw captures.
public enum WHIPRecordJob {
    /// Runs until `stop` or a limit; `ready` gets the bound WHIP port; `logger` gets progress, with
    /// the room as metadata.
    public static func run(_ options: WHIPRecordOptions, stop: StopRequest, ready: @Sendable (Int) -> Void = { _ in },
                           logger: Logger = .silent) async throws -> (manifest: RecordManifest, path: String) {
        var logger = logger
        logger[metadataKey: "room"] = "\(options.room)"
        let common = options.recording
        let recording = try Recording(options: common, room: options.room, source: "whip")
        var roomOptions = LiveRoomOptions(room: options.room, captureFolder: recording.captureFolder,
                                          candidateHosts: common.candidateHosts.isEmpty ? Recording.hostAddresses() : common.candidateHosts)
        roomOptions.peer = common.peer
        roomOptions.liveOutputs = recording.liveOutputs
        roomOptions.udpPorts = common.udpPorts
        roomOptions.maxParticipants = options.maxParticipants
        // One announced address: bind it, so what we send leaves from the address we announced.
        if roomOptions.candidateHosts.count == 1 { roomOptions.bindHost = roomOptions.candidateHosts[0] }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let room = try LiveRoom(options: roomOptions, group: group, logger: logger)
        var serverOptions = WHIPServerOptions()
        serverOptions.bearerToken = options.token
        let connectionBudget = DescriptorLimit.httpConnectionBudget(limit: options.descriptorLimit,
                                                                   participants: options.maxParticipants)
        serverOptions.maxConnections = connectionBudget
        if connectionBudget < DescriptorLimit.lowHTTPConnections {
            logger.warning("""
                the descriptor limit (\(options.descriptorLimit)) leaves WHIP \(connectionBudget) HTTP connections \
                with \(options.maxParticipants) publishers: raise it (systemd LimitNOFILE=, ulimit -n)
                """)
        }
        let server = WHIPServer(options: serverOptions, backend: room, group: group)
        let port: Int
        let metricsServer = try await recording.serveMetrics(group: group, logger: logger)
        do { port = try await server.start(host: options.listenHost, port: options.port) } catch {
            await metricsServer?.stop()
            recording.abandon()
            try? await group.shutdownGracefully()
            throw CannotStart(kind: .cannotListen,
                              description: "WHIP cannot listen on \(options.listenHost):\(options.port): \(Recording.reason(error))")
        }
        logger.info("""
            recording room '\(options.room)': WHIP on http://\(options.listenHost):\(port)/whip/\(options.room); \
            ICE host candidates \(roomOptions.candidateHosts.joined(separator: ", "))
            """, metadata: ["max_http_connections": "\(connectionBudget)"])
        ready(port)

        let reason = await recording.waitForStop(stop, snapshot: {
            var snapshot = MetricsSnapshot()
            for summary in await room.summaries() { snapshot.add(summary) }
            snapshot.participants = await room.participantCount
            return snapshot
        }, check: {
            recording.emptyLongEnough(since: await room.emptySinceMicros) ? .empty : nil
        }, keyframes: {
            await room.requestKeyframes()
        })
        let present = await room.participantCount
        logger.info("stopping (\(reason.rawValue)): closing \(present) peer(s)", metadata: ["reason": "\(reason.rawValue)"])
        await server.stop()
        let connections = await room.finish()

        var warnings: [String] = []
        for c in connections where c.captures.allSatisfy({ $0.packets == 0 }) {
            warnings.append("\(c.participant ?? c.session): no media received" + (c.failure.map { " (\($0))" } ?? ""))
        }
        let participants = connections.map { c in
            RecordedParticipant(name: c.participant ?? c.session, joinedAt: Recording.iso8601(micros: c.joinedMicros),
                                leftAt: c.leftMicros.map(Recording.iso8601(micros:)), packets: c.captures.reduce(0) { $0 + $1.packets })
        }
        let finished = Result { try recording.finish(reason, participants: participants, connections: connections, warnings: warnings, logger: logger) }
        await metricsServer?.stop()
        try? await group.shutdownGracefully()
        return (try finished.get(), recording.manifestPath)
    }
}
