import Foundation
import Jobs
import NIOCore
import NIOPosix
import Peer
import Pipeline
import WHIP

/// `flowrec record --whip`: what to listen on, what to record, when to stop.
public struct WHIPRecordOptions: Sendable {
    public var listenHost = "0.0.0.0"
    public var port: Int
    public var room: String
    /// The folder receiving the composite, the per-participant files, the captures and the manifest.
    public var outFolder: String
    public var pipeline: PipelineConfig
    /// File names start with this; default `{room}-{UTC start as yyyyMMdd'T'HHmmss'Z'}`.
    public var baseName: String?
    public var durationSeconds: Double?
    /// Stop once every publisher has left and nobody came back for this long.
    public var stopWhenEmptySeconds: Double?
    public var token: String?
    public var maxParticipants = 16
    /// Host candidate addresses; empty: every non-loopback IPv4 interface address.
    public var candidateHosts: [String] = []
    /// UDP ports for publishers' sockets (one each); nil: any free port.
    public var udpPorts: ClosedRange<Int>?
    public var peer = PeerOptions()
    public var overwrite = false

    public init(port: Int, room: String, outFolder: String, pipeline: PipelineConfig) {
        self.port = port
        self.room = room
        self.outFolder = outFolder
        self.pipeline = pipeline
    }
}

/// Records a room whose publishers come over WHIP, then writes the outputs from the raw captures.
public enum WHIPRecordJob {
    /// Runs until `stop`, the duration or an empty room; `ready` gets the bound WHIP port; `log` gets progress lines.
    public static func run(_ options: WHIPRecordOptions, stop: StopRequest, ready: @Sendable (Int) -> Void = { _ in },
                           log: @Sendable (String) -> Void = { _ in }) async throws -> (manifest: RecordManifest, path: String) {
        let recording = try Recording(outFolder: options.outFolder, room: options.room, baseName: options.baseName, overwrite: options.overwrite)
        var roomOptions = LiveRoomOptions(room: options.room, captureFolder: recording.captureFolder,
                                          candidateHosts: options.candidateHosts.isEmpty ? Recording.hostAddresses() : options.candidateHosts)
        roomOptions.peer = options.peer
        roomOptions.udpPorts = options.udpPorts
        roomOptions.maxParticipants = options.maxParticipants
        // One announced address: bind it, so what we send leaves from the address we announced.
        if roomOptions.candidateHosts.count == 1 { roomOptions.bindHost = roomOptions.candidateHosts[0] }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let room = try LiveRoom(options: roomOptions, group: group)
        var serverOptions = WHIPServerOptions()
        serverOptions.bearerToken = options.token
        let server = WHIPServer(options: serverOptions, backend: room, group: group)
        let port = try await server.start(host: options.listenHost, port: options.port)
        log("recording room '\(options.room)': WHIP on http://\(options.listenHost):\(port)/whip/\(options.room); "
            + "ICE host candidates \(roomOptions.candidateHosts.joined(separator: ", "))")
        ready(port)

        let reason = await Recording.waitForStop(stop, duration: options.durationSeconds) {
            guard let limit = options.stopWhenEmptySeconds, let since = await room.emptySinceMicros else { return nil }
            return Double(LiveClock.monotonicMicros() - since) >= limit * 1_000_000 ? .empty : nil
        }
        log("stopping (\(reason.rawValue)): closing \(await room.participantCount) peer(s)")
        await server.stop()
        let connections = await room.finish()
        try? await group.shutdownGracefully()
        let ended = Date()

        var warnings: [String] = []
        for c in connections where c.captures.allSatisfy({ $0.packets == 0 }) {
            warnings.append("\(c.participant ?? c.session): no media received" + (c.failure.map { " (\($0))" } ?? ""))
        }
        let written = try recording.writeOutputs(connections.flatMap(\.captures), pipeline: options.pipeline,
                                                 overwrite: options.overwrite, log: log)
        let participants = connections.map { c in
            RecordedParticipant(name: c.participant ?? c.session, joinedAt: Recording.iso8601(micros: c.joinedMicros),
                                leftAt: c.leftMicros.map(Recording.iso8601(micros:)), packets: c.captures.reduce(0) { $0 + $1.packets })
        }
        let manifest = RecordManifest(room: options.room, source: "whip", startedAt: Recording.iso8601(recording.started),
                                      endedAt: Recording.iso8601(ended), stopReason: reason, participants: participants,
                                      connections: connections, outputs: written.outputs, captureFolder: recording.captureFolder,
                                      warnings: warnings + written.warnings)
        try recording.writeManifest(manifest)
        return (manifest, recording.manifestPath)
    }
}
