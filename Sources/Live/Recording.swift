import Foundation
import Ingest
import Jobs
import Logging
import NIOCore
import NIOPosix
import Peer
import Pipeline
import Synchronization

/// Why a recording stopped.
public enum StopReason: String, Sendable, Codable {
    /// `--duration` reached.
    case duration
    /// `--stop-when-empty`: nobody publishing for that long.
    case empty
    /// `--max-size`: the captures reached the size limit.
    case maxSize
    /// SIGINT or SIGTERM.
    case signal
    /// The Janus room was destroyed, or the recorder was kicked out of it.
    case roomClosed
    /// The Janus server was lost for good (its socket dropped and reconnecting failed).
    case serverLost
    /// Free space on the output's file system fell below `--min-free`, or a write found it full.
    case diskFull
    /// A write to a capture or an output failed for another reason (an I/O error): the recording
    /// stopped at once, with what was written before kept.
    case writeFailed

    /// A stop that was planned (the recording is complete as asked), as opposed to one forced on it.
    public var isPlanned: Bool { [.duration, .empty, .maxSize, .roomClosed].contains(self) }
}

/// A stop request from outside the job (SIGINT/SIGTERM handlers), safe to set from any thread.
public final class StopRequest: Sendable {
    private let reason = Mutex<StopReason?>(nil)
    public init() {}
    public func request(_ why: StopReason) { reason.withLock { if $0 == nil { $0 = why } } }
    public var requested: StopReason? { reason.withLock { $0 } }
}

/// What every live recording takes, whatever its source.
public struct LiveRecordingOptions: Sendable {
    /// The folder receiving the composite, the per-participant files, the captures and the manifest.
    public var outFolder: String
    public var pipeline: PipelineConfig
    /// The preset name or file the pipeline came from (written to the manifest, so `recover` can redo it).
    public var pipelineName: String
    /// The file name base: a template with `{room}` and `{start}` / `{start:STRFTIME}` (UTC);
    /// default `{room}-{start}` (`{start}` is `%Y%m%dT%H%M%SZ`).
    public var nameTemplate = "{room}-{start}"
    public var durationSeconds: Double?
    /// Stop once nobody has published for this long (counted from the start too).
    public var stopWhenEmptySeconds: Double?
    /// Stop (planned) once the captures hold this many bytes.
    public var maxCaptureBytes: Int64?
    /// Refuse to start, or stop, when the output's file system has less free space than this.
    public var minFreeBytes: Int64 = 256 << 20
    /// The lock file that keeps two runs from recording the same room at once; nil: `<out>/.<source>-<room>.lock`.
    public var lockPath: String?
    /// Host candidate addresses; empty: every non-loopback IPv4 interface address.
    public var candidateHosts: [String] = []
    /// UDP ports for media sockets (one each); nil: any free port.
    public var udpPorts: ClosedRange<Int>?
    public var peer = PeerOptions()
    public var overwrite = false
    /// Serve Prometheus metrics and `/health` here while recording (`--metrics [HOST:]PORT`).
    public var metricsAddress: (host: String, port: Int)?
    /// Make the outputs while recording (``LiveOutputs``), so a stop only finalises them; false:
    /// make them from the captures after the stop (`--outputs-after-stop`).
    public var outputsWhileRecording = true

    public init(outFolder: String, pipeline: PipelineConfig, pipelineName: String) {
        self.outFolder = outFolder
        self.pipeline = pipeline
        self.pipelineName = pipelineName
    }
}

/// One participant of a live recording, as the manifest lists it.
public struct RecordedParticipant: Sendable, Codable, Equatable {
    /// The name its files carry.
    public var name: String
    /// The display name it gave (Janus), if any.
    public var display: String?
    /// Its Janus publisher id, for a Janus room.
    public var janusID: String?
    public var joinedAt: String
    public var leftAt: String?
    /// Packets captured for it.
    public var packets: Int
}

/// Where a recording's manifest says it is.
public enum ManifestState: String, Sendable, Codable {
    /// Written at the start: the captures are being written (a crash leaves this; `flowrec recover` finishes it).
    case recording
    /// Stopped, captures closed; the WebM files are being made.
    case writingOutputs = "writing-outputs"
    case complete
    /// Finished by `flowrec recover` after an interruption.
    case recovered
}

/// What a live recording left behind; also the JSON manifest's content.
public struct RecordManifest: Sendable, Codable {
    public var room: String
    /// `whip` or `janus`.
    public var source: String
    public var state: ManifestState
    public var pipeline: String
    public var tracks: Bool
    /// `--segment` in seconds (so `recover` cuts the same files); absent when the outputs are single files.
    public var segmentSeconds: Int?
    public var startedAt: String
    public var endedAt: String?
    public var stopReason: StopReason?
    public var participants: [RecordedParticipant]
    /// Each peer connection: one per WHIP publisher; one per Janus subscription (a new one after a session reset).
    public var connections: [PeerSessionSummary]
    public var outputs: [OutputFile]
    public var captureFolder: String
    public var warnings: [String]
    /// What `recover` could not bring back, when it finished an interrupted recording.
    public var lost: String?
}

/// When a live `--segment` recording asks its senders for keyframes (sans-IO): just after each
/// boundary of room time, on the wall clock however far behind the outputs are made; then once a
/// second while a participant's file still waits for one to be cut there (the keyframe came timed
/// before the boundary, or was lost), at most ``requestsPerCut`` times, so that a sender that never
/// answers does not make the others send a keyframe every second.
struct KeyframeSchedule {
    /// Requests at most while a file waits to be cut.
    static let requestsPerCut = 5
    /// How long after a boundary keyframes are first asked for: a picture the sender was already
    /// encoding would be timed before the boundary, and the cut needs one at or after it.
    static let delayMicros: Int64 = 100_000

    let segmentMicros: Int64
    private var nextBoundary = 1
    private var lastRequest: Int64?
    private var requests = 0

    init(segmentSeconds: Int) { segmentMicros = Int64(segmentSeconds) * 1_000_000 }

    /// Whether to ask now, at room time `roomMicros` (nil before the first packet), while a file
    /// is `awaiting` a keyframe or not; `nowMicros` is any monotonic clock.
    mutating func due(roomMicros: Int64?, awaiting: Bool, nowMicros: Int64) -> Bool {
        if let room = roomMicros, room - Self.delayMicros >= Int64(nextBoundary) * segmentMicros {
            nextBoundary = Int((room - Self.delayMicros) / segmentMicros) + 1
            (lastRequest, requests) = (nowMicros, 1)
            return true
        }
        guard awaiting else {
            requests = 0
            return false
        }
        guard requests < Self.requestsPerCut, nowMicros - (lastRequest ?? .min / 2) >= 1_000_000 else { return false }
        (lastRequest, requests) = (nowMicros, requests + 1)
        return true
    }
}

/// Refused to start: another run holds the lock, a port to listen on is taken, or the disk is too
/// full. Nothing was recorded.
public struct CannotStart: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case locked, cannotListen, diskFull }
    public var kind: Kind
    public var description: String
}

/// A live recording's files and the steps every live recording shares: the lock, refusing to
/// overwrite, the manifest at the start and at the end, waiting for a stop condition, writing the
/// outputs from the captures.
final class Recording: Sendable {
    let started = Date()
    let room: String
    let source: String
    let options: LiveRecordingOptions
    let base: String
    let captureFolder: String
    let manifestPath: String
    let out: OutputLocation
    let metrics: RecordingMetrics
    /// The outputs being made while recording, unless `outputsWhileRecording` is off.
    let liveOutputs: LiveOutputs?
    private let lock: RecordingLock
    /// Space set aside for the last manifests (``ManifestReserve``).
    private let reserve: ManifestReserve
    /// The failed write that stopped the recording (``StopReason/writeFailed`` or a full disk).
    let writeFailure = Mutex<String?>(nil)
    /// Below this many free bytes a failed write is taken for a full disk.
    static let fullDiskBytes: Int64 = 1 << 20

    /// Takes the lock, checks free space, refuses to overwrite, creates `<out>/<base>.capture/` and
    /// writes the first manifest (state `recording`).
    init(options: LiveRecordingOptions, room: String, source: String) throws {
        self.options = options
        self.room = room
        self.source = source
        metrics = RecordingMetrics(room: room)
        try createOutputFolder(options.outFolder)
        lock = try RecordingLock(path: options.lockPath ?? options.outFolder + "/.\(source)-\(safeFileName(room)).lock")
        // A name with {start} is meant to be new each run: a run started in the same second as one
        // that was killed (a restart loop) takes "-2", "-3", … rather than refusing as "exists".
        let expanded = NameTemplate.expand(options.nameTemplate, room: room, start: started)
        var base = expanded
        if options.nameTemplate.contains("{start"), !options.overwrite {
            var n = 2
            while n < 100, [".capture", ".json", ".webm"].contains(where: { FileManager.default.fileExists(atPath: options.outFolder + "/\(base)\($0)") }) {
                base = "\(expanded)-\(n)"
                n += 1
            }
        }
        self.base = base
        captureFolder = options.outFolder + "/\(base).capture"
        manifestPath = options.outFolder + "/\(base).json"
        out = OutputLocation(options.outFolder + "/\(base).webm")
        if let free = Self.freeBytes(options.outFolder), free < options.minFreeBytes {
            throw CannotStart(kind: .diskFull, description: "\(options.outFolder): \(free >> 20) MiB free, less than --min-free \(options.minFreeBytes >> 20) MiB")
        }
        if !options.overwrite {
            var outputs = [out.compositePath]
            if options.pipeline.segmentSeconds != nil { outputs.append(OutputLocation.segmentPath(out.compositePath, index: 0)) }
            for path in [captureFolder, manifestPath] + outputs where FileManager.default.fileExists(atPath: path) {
                throw OutputExists(path)
            }
        }
        try createOutputFolder(captureFolder)
        liveOutputs = options.outputsWhileRecording
            ? LiveOutputs(out: out, pipeline: options.pipeline, overwrite: options.overwrite,
                          warn: { Logger(label: "flowrec").warning("\($0)") })
            : nil
        if liveOutputs != nil { metrics.outputsBegin() }
        reserve = ManifestReserve(path: options.outFolder + "/.\(base).json.reserve")
        do { try writeManifest(manifest(state: .recording)) } catch {
            reserve.releaseAll()
            _ = try? liveOutputs?.finish()
            throw error
        }
    }

    /// Gives up a recording that never got going (the room could not be joined): no files stay behind.
    func abandon() {
        reserve.releaseAll()
        _ = try? liveOutputs?.finish()
        try? FileManager.default.removeItem(atPath: manifestPath)
        rmdir(captureFolder)
    }

    /// A manifest of this recording in `state`.
    func manifest(state: ManifestState, stopReason: StopReason? = nil, ended: Date? = nil, participants: [RecordedParticipant] = [],
                  connections: [PeerSessionSummary] = [], outputs: [OutputFile] = [], warnings: [String] = []) -> RecordManifest {
        RecordManifest(room: room, source: source, state: state, pipeline: options.pipelineName, tracks: options.pipeline.tracks,
                       segmentSeconds: options.pipeline.segmentSeconds, startedAt: Self.iso8601(started), endedAt: ended.map(Self.iso8601),
                       stopReason: stopReason,
                       participants: participants, connections: connections, outputs: outputs, captureFolder: captureFolder,
                       warnings: warnings)
    }

    /// Starts the metrics server when `--metrics` asked for one. When it cannot listen the
    /// recording is given up (nothing was recorded yet) and `group` shut down.
    func serveMetrics(group: any EventLoopGroup, logger: Logger) async throws -> MetricsServer? {
        guard let address = options.metricsAddress else { return nil }
        let server = MetricsServer(metrics: metrics, group: group)
        let port: Int
        do { port = try await server.start(host: address.host, port: address.port) } catch {
            abandon()
            try? await group.shutdownGracefully()
            throw CannotStart(kind: .cannotListen, description: "--metrics cannot listen on \(address.host):\(address.port): \(Self.reason(error))")
        }
        logger.info("metrics on http://\(address.host):\(port)/metrics, health on /health")
        return server
    }

    /// Waits until `stop` is requested, a limit is reached (duration, capture size, free space), or
    /// `check` returns a reason (polled every 100 ms; sizes and metrics every second, from `snapshot`).
    /// With `--segment` and outputs made while recording, `keyframes` asks the senders for keyframes
    /// when ``KeyframeSchedule`` says.
    func waitForStop(_ stop: StopRequest, snapshot: () async -> MetricsSnapshot, check: () async -> StopReason?,
                     keyframes: () async -> Void = {}) async -> StopReason {
        let start = LiveClock.monotonicMicros()
        var lastSecond = start
        var schedule = options.pipeline.segmentSeconds.map { KeyframeSchedule(segmentSeconds: $0) }
        while true {
            try? await Task.sleep(for: .milliseconds(100))
            if let requested = stop.requested { return requested }
            let now = LiveClock.monotonicMicros()
            if let progress = liveOutputs?.progress,
               schedule?.due(roomMicros: progress.originMicros.map { LiveClock.wallMicros() - $0 }, awaiting: progress.awaitingKeyframe,
                             nowMicros: now) == true {
                await keyframes()
            }
            if let duration = options.durationSeconds, Double(now - start) >= duration * 1_000_000 { return .duration }
            if now - lastSecond >= 1_000_000 {
                lastSecond = now
                let bytes = captureBytes()
                var current = await snapshot()
                current.captureBytes = Int(bytes)
                if let progress = liveOutputs?.progress {
                    current.framesEncoded = progress.framesEncoded
                    current.outputMediaSeconds = progress.mediaSeconds
                    current.outputQueuedPackets = progress.queuedPackets
                    current.videoFreezes = progress.videoFreezes
                    current.longestFreezeSeconds = progress.longestFreezeSeconds
                }
                metrics.update(current)
                let free = Self.freeBytes(options.outFolder)
                if let free, free < options.minFreeBytes { return .diskFull }
                // A write that failed stops the recording now, not at --duration: a capture that stopped
                // growing, or live outputs given up because the disk filled. Live outputs given up for
                // another reason (fallen behind) keep their fallback: made from the captures at the stop.
                let full = free.map { $0 < Self.fullDiskBytes } ?? false
                let outputsFailure = full ? liveOutputs?.progress.failure : nil
                if let failure = current.captureFailure ?? outputsFailure {
                    writeFailure.withLock { $0 = failure }
                    return full ? .diskFull : .writeFailed
                }
                if let limit = options.maxCaptureBytes, bytes >= limit { return .maxSize }
            }
            if let reason = await check() { return reason }
        }
    }

    /// A bind failure in words: "address already in use", not NIO's type dump.
    static func reason(_ error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
        return "\(error)"
    }

    /// The stop-when-empty condition for a room empty since `since` (monotonic µs).
    func emptyLongEnough(since: Int64?) -> Bool {
        guard let limit = options.stopWhenEmptySeconds, let since else { return false }
        return Double(LiveClock.monotonicMicros() - since) >= limit * 1_000_000
    }

    /// Bytes in the capture folder now.
    func captureBytes() -> Int64 {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: captureFolder)) ?? []
        return files.reduce(0) { total, name in
            let attributes = try? FileManager.default.attributesOfItem(atPath: captureFolder + "/" + name)
            return total + ((attributes?[.size] as? Int64) ?? 0)
        }
    }

    /// The last steps of every recording: the manifest says the captures are closed, the outputs are
    /// made from them by the same code as `transcode`, and the manifest says what was written.
    func finish(_ reason: StopReason, participants: [RecordedParticipant], connections: [PeerSessionSummary], warnings: [String],
                logger: Logger) throws -> RecordManifest {
        let ended = Date()
        var warnings = warnings
        if let failure = writeFailure.withLock({ $0 }) { warnings.insert("a write failed, so the recording stopped: \(failure)", at: 0) }
        var manifest = manifest(state: .writingOutputs, stopReason: reason, ended: ended, participants: participants,
                                connections: connections, warnings: warnings)
        try writeManifest(manifest)
        var final = MetricsSnapshot()
        for connection in connections { final.add(connection) }
        final.participants = participants.count
        final.captureBytes = Int(captureBytes())
        metrics.update(final)
        metrics.setState(.writingOutputs)
        var written: (outputs: [OutputFile], warnings: [String])
        do {
            written = try finishOutputs(connections.flatMap(\.captures), reason: reason, logger: logger)
        } catch {
            metrics.markFailed("writing outputs: \(error)")
            // Say why the recording stopped and that nothing received is lost (the caller prints the error itself).
            if reason == .diskFull {
                logger.warning("stopped: less than --min-free \(options.minFreeBytes >> 20) MiB left on \(options.outFolder), and the outputs did not fit",
                               metadata: ["path": "\(options.outFolder)"])
            }
            logger.warning("the captures are kept in \(captureFolder): `flowrec recover \(options.outFolder)` makes the outputs from them",
                           metadata: ["path": "\(captureFolder)"])
            manifest.warnings.append("writing the outputs failed: \(error); `flowrec recover` makes them from the captures")
            try? writeManifest(manifest)
            reserve.releaseAll()
            throw error
        }
        final.framesEncoded = written.outputs.filter { $0.name == "composite" }.reduce(0) { $0 + $1.frames }
        final.videoFreezes = written.outputs.compactMap(\.video).reduce(0) { $0 + $1.freezes }
        final.longestFreezeSeconds = written.outputs.compactMap(\.video?.longestFreezeSeconds).max() ?? 0
        // Segments of one output add up; the longest output is the media written.
        final.outputMediaSeconds = Dictionary(written.outputs.map { ($0.name, $0.durationSeconds) }, uniquingKeysWith: +).values.max() ?? 0
        metrics.update(final)
        metrics.setState(.done)
        manifest.state = .complete
        manifest.outputs = written.outputs
        manifest.warnings += written.warnings
        try writeManifest(manifest)
        reserve.releaseAll()
        return manifest
    }

    /// The outputs made while recording, finalised; or, when there are none or they were given up,
    /// the outputs made from the captures now (unless the disk is full: they would not fit either).
    private func finishOutputs(_ captures: [CaptureSummary], reason: StopReason,
                               logger: Logger) throws -> (outputs: [OutputFile], warnings: [String]) {
        var warnings = captures.compactMap { capture in capture.failure.map { "\(capture.participant): capture stopped early: \($0)" } }
        if let liveOutputs {
            do {
                let behind = liveOutputs.progress
                if behind.failure == nil {
                    logger.info("finalising the outputs made while recording", metadata: [
                        "queued_packets": .stringConvertible(behind.queuedPackets),
                        "media_seconds": .stringConvertible((behind.mediaSeconds * 100).rounded() / 100)])
                }
                let written = try liveOutputs.finish()
                if !written.outputs.isEmpty || captures.allSatisfy({ $0.packets == 0 }) {
                    if written.outputs.isEmpty { warnings.append("no media was received: no WebM written") }
                    return (written.outputs, warnings + written.warnings)
                }
            } catch {
                // Out of space: making them again from the captures would not fit either; `recover` can, elsewhere.
                if reason == .diskFull { throw error }
                logger.warning("the outputs made while recording were given up (\(error)); making them from the captures")
                warnings.append("outputs made from the captures after the stop: \(error)")
            }
        }
        // Segments the live outputs finished before they were given up are this recording's own: made again.
        let written = try Self.writeOutputs(captures, to: out, pipeline: options.pipeline, overwrite: options.overwrite || liveOutputs != nil,
                                            logger: logger)
        return (written.outputs, warnings + written.warnings)
    }

    /// The composite and per-participant files from the captures, by the same code as `transcode`
    /// (the captures' own failures are ``finishOutputs``'s to report).
    static func writeOutputs(_ captures: [CaptureSummary], to out: OutputLocation, pipeline: PipelineConfig, overwrite: Bool,
                             logger: Logger) throws -> (outputs: [OutputFile], warnings: [String]) {
        let captured = captures.filter { $0.packets > 0 }
        guard !captured.isEmpty else { return ([], ["no media was received: no WebM written"]) }
        logger.info("writing outputs from \(captured.count) capture(s)", metadata: ["path": "\(out.compositePath)"])
        let ingest = IngestOptions(payloadTypes: ParticipantCapture.payloadTypes,
                                   participantByFile: Dictionary(captured.map { ($0.path, $0.participant) }, uniquingKeysWith: { a, _ in a }))
        let result = try TranscodeJob.run(inputs: captured.map(\.path), out: out, pipeline: pipeline, options: ingest, overwrite: overwrite)
        return (result.outputs, result.warnings)
    }

    /// Writes the manifest as `.partial`, then renames it into place. When that fails (a full
    /// disk), the reserve is given back a slice at a time and it is written again, so it always
    /// says what happened.
    func writeManifest(_ manifest: RecordManifest) throws {
        while true {
            do { return try Self.write(manifest, to: manifestPath) } catch {
                guard reserve.release() else { throw error }
            }
        }
    }

    static func write(_ manifest: RecordManifest, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let partial = path + ".partial"
        let bytes = try encoder.encode(manifest)
        do { try writeNewFile(partial, bytes) } catch {
            unlink(partial)  // no empty or cut .json.partial beside the last good manifest
            throw error
        }
        guard rename(partial, path) == 0 else {
            let code = errno
            unlink(partial)
            throw CannotCreateOutput(path, reason: String(cString: strerror(code)) + " (renaming the manifest into place)")
        }
    }

    /// Free bytes for an unprivileged writer on the file system holding `path`.
    static func freeBytes(_ path: String) -> Int64? {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return nil }
        return Int64(stats.f_bavail) * Int64(stats.f_frsize)
    }

    /// Every non-loopback IPv4 address of this machine (loopback alone when there is none).
    static func hostAddresses() -> [String] {
        let devices = (try? System.enumerateDevices()) ?? []
        var addresses: [String] = []
        for device in devices {
            guard let address = device.address, case .v4 = address, let ip = address.ipAddress, !ip.hasPrefix("127."),
                  !addresses.contains(ip) else { continue }
            addresses.append(ip)
        }
        return addresses.isEmpty ? ["127.0.0.1"] : addresses
    }

    static func iso8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    static func iso8601(micros: Int64) -> String { iso8601(Date(timeIntervalSince1970: Double(micros) / 1_000_000)) }
}
