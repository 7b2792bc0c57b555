import Foundation
import Ingest
import Media
import Pipeline

/// One file a transcode wrote.
/// What a participant's video was made of (see ``VideoLayerSelector``).
public struct RecordedVideo: Sendable, Codable, Equatable {
    /// Every video stream seen: SSRC, the picture size of its latest keyframe, frames.
    public var layers: [VideoLayerSelector.Layer]
    /// Which stream was recorded from when (room seconds), in order; empty with one stream only.
    public var recorded: [RecordedLayer]
    /// Gaps in the recorded picture longer than three frame intervals while the participant kept sending.
    public var freezes: Int
    public var longestFreezeSeconds: Double
    /// Streams not recorded from some point on because they declared a picture over `--max-picture`; nil when none.
    public var rejected: [RejectedVideo]?

    public struct RecordedLayer: Sendable, Codable, Equatable {
        public var ssrc: UInt32
        public var fromSeconds: Double
        public var width: Int?
        public var height: Int?
    }
}

/// A video stream whose bitstream declared a picture larger than `--max-picture`: from that frame on its
/// video is not recorded (no decoder or file sees it); the participant's audio and other streams go on.
public struct RejectedVideo: Sendable, Codable, Equatable {
    public var ssrc: UInt32
    /// Room time of the frame that declared it (s).
    public var fromSeconds: Double
    /// The size it declared, and the limit.
    public var width: Int
    public var height: Int
    public var limit: String
    /// Its frames dropped: that one and every later one.
    public var framesDropped: Int
    /// Why, in words.
    public var reason: String
}

public struct OutputFile: Sendable, Codable, Equatable {
    /// `composite`, or the participant's name.
    public var name: String
    public var path: String
    public var frames: Int
    public var durationSeconds: Double
    /// With `--segment`: where the file starts in the room's time (s; its own timestamps start at 0). Nil when unsegmented.
    public var startSeconds: Double?

    /// A participant's video: the streams (simulcast layers) it sent, which one was recorded from
    /// when, and how often its picture froze. Nil for the composite and for audio-only participants.
    public var video: RecordedVideo?
    /// RTP timestamp discontinuities of the streams in it (each a warning); nil when none.
    public var timestampJumps: Int?

    public init(name: String, path: String, frames: Int, durationSeconds: Double, startSeconds: Double? = nil, video: RecordedVideo? = nil,
                timestampJumps: Int? = nil) {
        self.name = name
        self.path = path
        self.frames = frames
        self.durationSeconds = durationSeconds
        self.startSeconds = startSeconds
        self.video = video
        self.timestampJumps = timestampJumps
    }
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

/// An output (or a recording's capture folder or manifest) exists, and overwriting was not asked for.
public struct OutputExists: Error, Sendable, CustomStringConvertible {
    public var path: String
    public init(_ path: String) { self.path = path }
    public var description: String { "\(path) exists (use --force to overwrite)" }
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
        var outputs: RoomOutputs?
        do {
            let room = try RoomOutputs(out: out, pipeline: pipeline, overwrite: overwrite, originMicros: inventory.firstArrivalMicros)
            outputs = room
            for (index, participant) in inventory.participants.enumerated() {
                for stream in participant.streams.compactMap({ inventory.stream($0) }) { try room.addStream(stream, colourIndex: index) }
            }
            let reader = FrameReader(inventory: inventory, options: options)
            let total = Double(inventory.lastArrivalMicros - inventory.firstArrivalMicros) / 1_000_000
            while let roomFrame = try reader.next() {
                try room.add(roomFrame)
                if let progress, room.framesAdded % 200 == 0 {
                    progress(JobProgress(mediaSeconds: Double(roomFrame.frame.arrivalMicros - inventory.firstArrivalMicros) / 1_000_000,
                                      totalSeconds: total, elapsedSeconds: (ContinuousClock.now - started).seconds))
                }
            }
            let written = try room.finish()
            progress?(JobProgress(mediaSeconds: total, totalSeconds: total, elapsedSeconds: (ContinuousClock.now - started).seconds))
            return TranscodeResult(outputs: written.outputs, warnings: inventory.warnings + written.warnings, stats: reader.stats,
                                   composite: room.compositeStats, inventory: inventory)
        } catch {
            // Keep what was written as `.partial` files: nothing poses as finished, nothing is lost.
            outputs?.abort(keepPartial: true)
            throw error
        }
    }
}
