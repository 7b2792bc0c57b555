import Foundation
import Media
import Jobs
import Logging
import Pipeline

/// `flowrec recover DIR`: finishes recordings that were interrupted (SIGKILL, power loss, a
/// crash) — their raw captures are on disk up to the last one-second flush, but the WebM files
/// and the final manifest were never written. It makes the outputs a clean stop would have made,
/// and says what span was lost.
public enum RecoverJob {
    /// One recording `recover` finished.
    public struct Recovered: Sendable {
        public var manifestPath: String
        public var manifest: RecordManifest
    }

    /// Recovers `path`: a `<base>.capture` folder, or a folder holding such folders (each whose
    /// manifest is not `complete` or `recovered`). `pipeline`, `tracks` and `segmentSeconds` override
    /// what the manifest says (the recording's preset, `--tracks` and `--segment`); `logger` hears of
    /// each recording as it starts, with its capture folder as `path`.
    public static func run(path: String, pipeline: String? = nil, tracks: Bool? = nil, segmentSeconds: Int? = nil,
                           maxPicture: PictureSizeLimit = .standard,
                           logger: Logger = .silent) throws -> [Recovered] {
        var folders: [String] = []
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
            throw JobError("\(path): not a folder (give a recording's output folder or its .capture folder)")
        }
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        if trimmed.hasSuffix(".capture") {
            folders = [trimmed]
        } else {
            let names = try FileManager.default.contentsOfDirectory(atPath: trimmed).sorted()
            folders = names.filter { $0.hasSuffix(".capture") }.map { trimmed + "/" + $0 }.filter { folder in
                let state = readManifest(manifestPath(of: folder))?.state
                return state != .complete && state != .recovered
            }
        }
        guard !folders.isEmpty else { throw JobError("\(path): no interrupted recording (no .capture folder without a complete manifest)") }
        return try folders.map { try recover(folder: $0, pipeline: pipeline, tracks: tracks, segmentSeconds: segmentSeconds,
                                                 maxPicture: maxPicture, logger: logger) }
    }

    static func manifestPath(of captureFolder: String) -> String {
        String(captureFolder.dropLast(".capture".count)) + ".json"
    }

    static func readManifest(_ path: String) -> RecordManifest? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(RecordManifest.self, from: data)
    }

    private static func recover(folder: String, pipeline: String?, tracks: Bool?, segmentSeconds: Int?, maxPicture: PictureSizeLimit,
                                logger: Logger) throws -> Recovered {
        let base = String(folder.split(separator: "/").last!.dropLast(".capture".count))
        let manifestPath = manifestPath(of: folder)
        let earlier = readManifest(manifestPath)
        // The interrupted run's space set aside for its manifests (``ManifestReserve``) is given back first.
        let parent = (folder as NSString).deletingLastPathComponent
        ManifestReserve(existingAt: (parent.isEmpty ? "." : parent) + "/.\(base).json.reserve").releaseAll()
        let captures = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".pcap") }.sorted()
            .map { folder + "/" + $0 }
        guard !captures.isEmpty else { throw JobError("\(folder): no capture files (.pcap) to recover from") }
        let presetName = pipeline ?? earlier?.pipeline ?? "grid-720p"
        var config = try PipelineConfig.load(presetName)
        if let tracks { config.tracks = tracks } else if let earlier { config.tracks = earlier.tracks }
        if let segmentSeconds { config.segmentSeconds = segmentSeconds } else if let earlier { config.segmentSeconds = earlier.segmentSeconds }
        config.maxPicture = maxPicture
        logger.info("recovering \(base) from \(captures.count) capture(s) with \(presetName)", metadata: ["path": "\(folder)"])
        let out = OutputLocation(String(folder.dropLast(".capture".count)) + ".webm")
        // The outputs of an interrupted recording may exist as .partial, or not at all: they are this run's to write.
        let result = try TranscodeJob.run(inputs: captures, out: out, pipeline: config,
                                          options: .init(payloadTypes: ParticipantCapture.payloadTypes), overwrite: true)
        let end = result.inventory.lastArrivalMicros
        let truncated = result.warnings.filter { $0.contains("truncated") }
        var lost = "the captures end at \(Recording.iso8601(micros: end)); what was received after that, up to the interruption, "
            + "is lost (at most the last second, the captures are synced every second)"
        if !truncated.isEmpty { lost += "; \(truncated.count) capture(s) ended in a cut-off packet, dropped" }
        let participants = result.inventory.participants.map { participant in
            let streams = participant.streams.compactMap { result.inventory.stream($0) }
            return RecordedParticipant(name: participant.name,
                                       joinedAt: Recording.iso8601(micros: streams.map(\.firstArrivalMicros).min() ?? 0),
                                       leftAt: Recording.iso8601(micros: streams.map(\.lastArrivalMicros).max() ?? 0),
                                       packets: streams.reduce(0) { $0 + $1.packets })
        }
        let manifest = RecordManifest(
            room: earlier?.room ?? base, source: earlier?.source ?? "unknown", state: .recovered, pipeline: presetName, tracks: config.tracks,
            segmentSeconds: config.segmentSeconds,
            startedAt: earlier?.startedAt ?? Recording.iso8601(micros: result.inventory.firstArrivalMicros),
            endedAt: Recording.iso8601(micros: end), stopReason: earlier?.stopReason, participants: earlier?.participants.isEmpty == false
                ? earlier!.participants : participants,
            connections: earlier?.connections ?? [], outputs: result.outputs, captureFolder: folder,
            warnings: (earlier?.warnings ?? []) + result.warnings, lost: lost)
        try Recording.write(manifest, to: manifestPath)
        return Recovered(manifestPath: manifestPath, manifest: manifest)
    }
}
