import Foundation
import Ingest
import Jobs
import NIOCore
import NIOPosix
import Pipeline
import Synchronization

/// Why a recording stopped.
public enum StopReason: String, Sendable, Codable {
    /// `--duration` reached.
    case duration
    /// `--stop-when-empty`: nobody publishing for that long.
    case empty
    /// SIGINT or SIGTERM.
    case signal
    /// The Janus room was destroyed, or the recorder was kicked out of it.
    case roomClosed
    /// The Janus server was lost for good (its socket dropped and reconnecting failed).
    case serverLost
}

/// A stop request from outside the job (SIGINT/SIGTERM handlers), safe to set from any thread.
public final class StopRequest: Sendable {
    private let reason = Mutex<StopReason?>(nil)
    public init() {}
    public func request(_ why: StopReason) { reason.withLock { if $0 == nil { $0 = why } } }
    public var requested: StopReason? { reason.withLock { $0 } }
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

/// What a live recording left behind; also the JSON manifest's content.
public struct RecordManifest: Sendable, Codable {
    public var room: String
    /// `whip` or `janus`.
    public var source: String
    public var startedAt: String
    public var endedAt: String
    public var stopReason: StopReason
    public var participants: [RecordedParticipant]
    /// Each peer connection: one per WHIP publisher; one per Janus subscription (a new one after a session reset).
    public var connections: [PeerSessionSummary]
    public var outputs: [OutputFile]
    public var captureFolder: String
    public var warnings: [String]
}

/// Where a live recording's files go, and the steps every live recording shares: refusing to
/// overwrite, waiting for a stop condition, writing the outputs from the captures, the manifest.
struct Recording {
    let started = Date()
    let base: String
    let captureFolder: String
    let manifestPath: String
    let out: OutputLocation

    /// `<out>/<base>.capture/`, `<out>/<base>.json`, `<out>/<base>.webm`; `base` defaults to `<room>-<UTC start>`.
    init(outFolder: String, room: String, baseName: String?, overwrite: Bool) throws {
        base = baseName ?? "\(safeFileName(room))-\(Self.utcStamp(started))"
        captureFolder = outFolder + "/\(base).capture"
        manifestPath = outFolder + "/\(base).json"
        out = OutputLocation(outFolder + "/\(base).webm")
        if !overwrite {
            for path in [captureFolder, manifestPath, out.compositePath] where FileManager.default.fileExists(atPath: path) {
                throw JobError("\(path) exists (use --force to overwrite)")
            }
        }
        try FileManager.default.createDirectory(atPath: captureFolder, withIntermediateDirectories: true)
    }

    /// Waits until `stop` is requested, `duration` has passed, or `check` returns a reason (polled every 100 ms).
    static func waitForStop(_ stop: StopRequest, duration: Double?, check: () async -> StopReason?) async -> StopReason {
        let start = LiveClock.monotonicMicros()
        while true {
            try? await Task.sleep(for: .milliseconds(100))
            if let requested = stop.requested { return requested }
            if let duration, Double(LiveClock.monotonicMicros() - start) >= duration * 1_000_000 { return .duration }
            if let reason = await check() { return reason }
        }
    }

    /// The composite and per-participant files from the captures, by the same code as `transcode`.
    func writeOutputs(_ captures: [CaptureSummary], pipeline: PipelineConfig, overwrite: Bool,
                      log: (String) -> Void) throws -> (outputs: [OutputFile], warnings: [String]) {
        var warnings = captures.compactMap { capture in capture.failure.map { "\(capture.participant): capture stopped early: \($0)" } }
        let captured = captures.filter { $0.packets > 0 }
        guard !captured.isEmpty else { return ([], warnings + ["no media was received: no WebM written"]) }
        log("writing outputs from \(captured.count) capture(s)")
        let ingest = IngestOptions(payloadTypes: ParticipantCapture.payloadTypes,
                                   participantByFile: Dictionary(captured.map { ($0.path, $0.participant) }, uniquingKeysWith: { a, _ in a }))
        let result = try TranscodeJob.run(inputs: captured.map(\.path), out: out, pipeline: pipeline, options: ingest, overwrite: overwrite)
        warnings += result.warnings
        return (result.outputs, warnings)
    }

    /// Writes the manifest as `.partial`, then renames it into place.
    func writeManifest(_ manifest: RecordManifest) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let partial = manifestPath + ".partial"
        try encoder.encode(manifest).write(to: URL(fileURLWithPath: partial))
        guard rename(partial, manifestPath) == 0 else { throw JobError("\(manifestPath): cannot rename the manifest into place (errno \(errno))") }
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

    static func iso8601(micros: Int64) -> String { iso8601(Date(timeIntervalSince1970: Double(micros) / 1_000_000)) }
}
