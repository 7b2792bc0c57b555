import Foundation
import Ingest
import Jobs
import NIOCore
import NIOPosix
import Peer
import Pipeline
import Synchronization
import WHIP

/// Why a recording stopped.
public enum StopReason: String, Sendable, Codable {
    case duration, empty, signal
}

/// A stop request from outside the job (SIGINT/SIGTERM handlers), safe to set from any thread.
public final class StopRequest: Sendable {
    private let reason = Mutex<StopReason?>(nil)
    public init() {}
    public func request(_ why: StopReason) { reason.withLock { if $0 == nil { $0 = why } } }
    public var requested: StopReason? { reason.withLock { $0 } }
}

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

/// What a live recording left behind; also the JSON manifest's content.
public struct RecordManifest: Sendable, Codable {
    public var room: String
    public var source: String
    public var startedAt: String
    public var endedAt: String
    public var stopReason: StopReason
    public var participants: [PeerSessionSummary]
    public var outputs: [OutputFile]
    public var captureFolder: String
    public var warnings: [String]
}

/// Records a room whose publishers come over WHIP, then writes the outputs from the raw capture.
public enum RecordJob {
    /// Runs until `stop`, the duration or an empty room; `ready` gets the bound WHIP port; `log` gets progress lines.
    public static func recordWHIP(_ options: WHIPRecordOptions, stop: StopRequest, ready: @Sendable (Int) -> Void = { _ in },
                                  log: @Sendable (String) -> Void = { _ in }) async throws -> (manifest: RecordManifest, path: String) {
        let started = Date()
        let base = options.baseName ?? "\(safeFileName(options.room))-\(utcStamp(started))"
        let captureFolder = options.outFolder + "/\(base).capture"
        let manifestPath = options.outFolder + "/\(base).json"
        let out = OutputLocation(options.outFolder + "/\(base).webm")
        try refuseExisting([captureFolder, manifestPath, out.compositePath], overwrite: options.overwrite)
        try FileManager.default.createDirectory(atPath: options.outFolder, withIntermediateDirectories: true)

        var roomOptions = LiveRoomOptions(room: options.room, captureFolder: captureFolder,
                                          candidateHosts: options.candidateHosts.isEmpty ? hostAddresses() : options.candidateHosts)
        roomOptions.peer = options.peer
        // One announced address: bind it, so what we send leaves from the address we announced.
        if roomOptions.candidateHosts.count == 1 { roomOptions.bindHost = roomOptions.candidateHosts[0] }
        roomOptions.udpPorts = options.udpPorts
        roomOptions.maxParticipants = options.maxParticipants
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let room = try LiveRoom(options: roomOptions, group: group)
        var serverOptions = WHIPServerOptions()
        serverOptions.bearerToken = options.token
        let server = WHIPServer(options: serverOptions, backend: room, group: group)
        let port = try await server.start(host: options.listenHost, port: options.port)
        log("recording room '\(options.room)': WHIP on http://\(options.listenHost):\(port)/whip/\(options.room); "
            + "ICE host candidates \(roomOptions.candidateHosts.joined(separator: ", "))")
        ready(port)

        let startMicros = LiveClock.monotonicMicros()
        var reason = StopReason.signal
        while true {
            try? await Task.sleep(for: .milliseconds(100))
            if let requested = stop.requested {
                reason = requested
                break
            }
            let now = LiveClock.monotonicMicros()
            if let limit = options.durationSeconds, Double(now - startMicros) >= limit * 1_000_000 {
                reason = .duration
                break
            }
            if let limit = options.stopWhenEmptySeconds, let since = await room.emptySinceMicros,
               Double(now - since) >= limit * 1_000_000 {
                reason = .empty
                break
            }
        }
        log("stopping (\(reason.rawValue)): closing \(await room.participantCount) peer(s)")
        await server.stop()
        let participants = await room.finish()
        try? await group.shutdownGracefully()
        let ended = Date()

        var warnings: [String] = []
        var outputs: [OutputFile] = []
        let captured = participants.filter { $0.capturedPackets > 0 }
        for p in participants where p.capturedPackets == 0 {
            warnings.append("\(p.participant): no media received" + (p.failure.map { " (\($0))" } ?? ""))
        }
        if captured.isEmpty {
            warnings.append("no media was received: no WebM written")
        } else {
            log("writing outputs from \(captured.count) capture(s)")
            let ingest = IngestOptions(payloadTypes: ParticipantCapture.payloadTypes,
                                       participantByFile: Dictionary(uniqueKeysWithValues: captured.map { ($0.capturePath, $0.participant) }))
            let result = try TranscodeJob.run(inputs: captured.map(\.capturePath), out: out, pipeline: options.pipeline,
                                              options: ingest, overwrite: options.overwrite)
            outputs = result.outputs
            warnings += result.warnings
        }
        let manifest = RecordManifest(room: options.room, source: "whip", startedAt: iso8601(started), endedAt: iso8601(ended),
                                      stopReason: reason, participants: participants, outputs: outputs,
                                      captureFolder: captureFolder, warnings: warnings)
        try writeManifest(manifest, to: manifestPath)
        return (manifest, manifestPath)
    }

    /// Every non-loopback IPv4 address of this machine (loopback alone when there is none).
    static func hostAddresses() -> [String] {
        let devices = (try? System.enumerateDevices()) ?? []
        var addresses: [String] = []
        for device in devices {
            guard let address = device.address, case .v4 = address, let ip = address.ipAddress, !ip.hasPrefix("127."), !addresses.contains(ip) else { continue }
            addresses.append(ip)
        }
        return addresses.isEmpty ? ["127.0.0.1"] : addresses
    }

    private static func refuseExisting(_ paths: [String], overwrite: Bool) throws {
        guard !overwrite else { return }
        for path in paths where FileManager.default.fileExists(atPath: path) {
            throw JobError("\(path) exists (use --force to overwrite)")
        }
    }

    private static func writeManifest(_ manifest: RecordManifest, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let partial = path + ".partial"
        try encoder.encode(manifest).write(to: URL(fileURLWithPath: partial))
        guard rename(partial, path) == 0 else { throw JobError("\(path): cannot rename the manifest into place (errno \(errno))") }
    }

    static func utcStamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }

    static func iso8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
