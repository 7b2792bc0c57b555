import Foundation
import Ingest
import Media

/// One per-participant file a job wrote.
public struct ParticipantOutput: Sendable, Codable, Equatable {
    public var participant: String
    public var path: String
    public var frames: Int
    public var durationSeconds: Double
}

/// What `transcode --tracks` did.
public struct TracksResult: Sendable {
    public var outputs: [ParticipantOutput]
    public var warnings: [String]
    public var stats: [StreamKey: StreamStats]
    public var inventory: RoomInventory
}

/// A job failure that names what and where.
public struct JobError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// `flowrec transcode INPUT... --tracks --out DIR`: one WebM per participant, remuxed.
public enum TranscodeTracksJob {
    public static func run(inputs: [String], out: OutputLocation, options: IngestOptions = IngestOptions(),
                           overwrite: Bool = false, progress: ((Double) -> Void)? = nil) throws -> TracksResult {
        let inventory = try RoomScanner.scan(paths: inputs, options: options)
        try FileManager.default.createDirectory(atPath: out.folder, withIntermediateDirectories: true)
        var remuxers: [String: ParticipantRemuxer] = [:]
        for participant in inventory.participants {
            remuxers[participant.name] = ParticipantRemuxer(participant: participant, inventory: inventory,
                                                            path: out.participantPath(participant.name), overwrite: overwrite)
        }
        let participantOfStream = Dictionary(uniqueKeysWithValues: inventory.streams.map { ($0.key, $0.participant) })
        let reader = FrameReader(inventory: inventory, options: options)
        let span = max(1, inventory.lastArrivalMicros - inventory.firstArrivalMicros)
        var count = 0
        do {
            while let roomFrame = try reader.next() {
                guard let name = participantOfStream[roomFrame.stream] else { continue }
                try remuxers[name]!.add(roomFrame)
                count += 1
                if let progress, count % 500 == 0 {
                    progress(Double(roomFrame.frame.arrivalMicros - inventory.firstArrivalMicros) / Double(span))
                }
            }
            var outputs: [ParticipantOutput] = []
            var warnings = inventory.warnings
            for participant in inventory.participants {
                let remuxer = remuxers[participant.name]!
                if try remuxer.finish() {
                    outputs.append(ParticipantOutput(participant: participant.name, path: remuxer.path,
                                                     frames: remuxer.framesWritten, durationSeconds: Double(remuxer.lastEndMillis) / 1000))
                } else {
                    warnings.append("\(participant.name): no decodable media, no file written")
                }
                warnings += remuxer.warnings
            }
            return TracksResult(outputs: outputs, warnings: warnings, stats: reader.stats, inventory: inventory)
        } catch {
            // Keep what was written as `.partial` files: nothing poses as finished, nothing is lost.
            for remuxer in remuxers.values { remuxer.abort() }
            throw error
        }
    }
}
