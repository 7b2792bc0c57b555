import Foundation
import Ingest
import Media
import Pipeline

/// One file a transcode wrote.
public struct OutputFile: Sendable, Codable, Equatable {
    /// `composite`, or the participant's name.
    public var name: String
    public var path: String
    public var frames: Int
    public var durationSeconds: Double
}

/// What `transcode` did.
public struct TranscodeResult: Sendable {
    public var outputs: [OutputFile]
    public var warnings: [String]
    public var stats: [StreamKey: StreamStats]
    public var composite: CompositeStats?
    public var inventory: RoomInventory
}

/// How far a job has got: media time done out of the room's length, and the work's wall time.
public struct JobProgress: Sendable {
    public var mediaSeconds: Double
    public var totalSeconds: Double
    public var elapsedSeconds: Double
}

/// A job failure that names what and where.
public struct JobError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// `flowrec transcode INPUT... --pipeline P --out PATH`: the composite the pipeline describes
/// and/or one remuxed WebM per participant, from one pass over the inputs.
public enum TranscodeJob {
    public static func run(inputs: [String], out: OutputLocation, pipeline: PipelineConfig, options: IngestOptions = IngestOptions(),
                           overwrite: Bool = false, progress: (@Sendable (JobProgress) -> Void)? = nil) throws -> TranscodeResult {
        let started = ContinuousClock.now
        let inventory = try RoomScanner.scan(paths: inputs, options: options)
        try FileManager.default.createDirectory(atPath: out.folder, withIntermediateDirectories: true)
        var composite: CompositeRecorder?
        var remuxers: [String: ParticipantRemuxer] = [:]
        func abortAll() {
            // Keep what was written as `.partial` files: nothing poses as finished, nothing is lost.
            composite?.abort()
            for remuxer in remuxers.values { remuxer.abort() }
        }
        do {
            if let config = pipeline.composite {
                composite = try CompositeRecorder(inventory: inventory, config: config, path: out.compositePath, overwrite: overwrite)
            }
            if pipeline.tracks {
                for participant in inventory.participants {
                    remuxers[participant.name] = ParticipantRemuxer(participant: participant, inventory: inventory,
                                                                    path: out.participantPath(participant.name), overwrite: overwrite)
                }
            }
            let participantOfStream = Dictionary(uniqueKeysWithValues: inventory.streams.map { ($0.key, $0.participant) })
            let reader = FrameReader(inventory: inventory, options: options)
            let total = Double(inventory.lastArrivalMicros - inventory.firstArrivalMicros) / 1_000_000
            var count = 0
            while let roomFrame = try reader.next() {
                try composite?.add(roomFrame)
                if let name = participantOfStream[roomFrame.stream] { try remuxers[name]?.add(roomFrame) }
                count += 1
                if let progress, count % 200 == 0 {
                    progress(JobProgress(mediaSeconds: Double(roomFrame.frame.arrivalMicros - inventory.firstArrivalMicros) / 1_000_000,
                                      totalSeconds: total, elapsedSeconds: (ContinuousClock.now - started).seconds))
                }
            }
            var outputs: [OutputFile] = []
            var warnings = inventory.warnings
            if let composite {
                try composite.finish()
                outputs.append(OutputFile(name: "composite", path: out.compositePath,
                                          frames: composite.stats.videoFrames + composite.stats.audioBlocks,
                                          durationSeconds: composite.stats.durationSeconds))
                if composite.stats.decodeErrors > 0 { warnings.append("composite: \(composite.stats.decodeErrors) video frames did not decode and were skipped") }
                if composite.stats.lateFrames > 0 { warnings.append("composite: \(composite.stats.lateFrames) frames arrived after their time was written") }
            }
            for participant in inventory.participants {
                guard let remuxer = remuxers[participant.name] else { continue }
                if try remuxer.finish() {
                    outputs.append(OutputFile(name: participant.name, path: remuxer.path,
                                              frames: remuxer.framesWritten, durationSeconds: Double(remuxer.lastEndMillis) / 1000))
                } else {
                    warnings.append("\(participant.name): no decodable media, no file written")
                }
                warnings += remuxer.warnings
            }
            progress?(JobProgress(mediaSeconds: total, totalSeconds: total, elapsedSeconds: (ContinuousClock.now - started).seconds))
            return TranscodeResult(outputs: outputs, warnings: warnings, stats: reader.stats, composite: composite?.stats, inventory: inventory)
        } catch {
            abortAll()
            throw error
        }
    }
}
