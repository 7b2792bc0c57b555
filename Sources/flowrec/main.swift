import ArgumentParser
import Capture
import Foundation
import Ingest
import FlowrecLogging
import Jobs
import Live
import Logging
import Media
import Pipeline
import SDP
import Synth
import WebM

/// Process exit codes (sysexits.h): documented in README and `--help`.
enum ExitCodes {
    static let usage: Int32 = 64
    static let badInput: Int32 = 65
    /// The room or server cannot be reached or joined (EX_UNAVAILABLE).
    static let unavailable: Int32 = 69
    static let cannotCreateOutput: Int32 = 73
    static let ioError: Int32 = 74
    /// Another run holds the recording's lock (EX_TEMPFAIL: try later).
    static let locked: Int32 = 75
    /// A recording stopped by SIGINT, SIGTERM or SIGHUP (its files are finalised).
    static let interrupted: Int32 = 130
}

struct Flowrec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flowrec",
        abstract: "Records and transcodes video calls (Janus videoroom, WHIP, RTP dumps) into WebM.",
        discussion: """
        Exit codes: 0 done; 64 usage error; 65 bad input (malformed or unreadable capture);
        69 the room cannot be reached or joined, or was lost (record); 73 output cannot be created (exists without --force, no permission);
        74 I/O error while writing, or the disk is too full (record); 75 another run holds the lock (record);
        130 record stopped by SIGINT/SIGTERM/SIGHUP (files finalised).
        Logs go to stderr: human lines on a terminal, one JSON object a line otherwise; every command's \
        --log-format auto|human|json and --log-level (or $FLOWREC_LOG_FORMAT, $FLOWREC_LOG_LEVEL) choose. \
        Results ("wrote …" lines, tables) go to stdout.
        """,
        subcommands: [Transcode.self, Record.self, Recover.self, Inspect.self, Synth.self, SoakCommand.self])
}

/// Options shared by commands that read RTP dumps.
struct InputOptions: ParsableArguments {
    @Argument(help: "Capture files (.mjr, .pcap, .pcapng, .rtpdump) or folders holding them.")
    var inputs: [String]

    @Option(help: "SDP file whose rtpmap lines give codecs per payload type (pcap/rtpdump).")
    var sdp: String?

    @Option(help: "Codecs per payload type, e.g. 111=opus,96=vp8,98=vp9.")
    var pt: String?

    @Option(name: .customLong("participant"), help: "Name the participant of a file: FILE=NAME (repeatable).")
    var participants: [String] = []

    func ingestOptions() throws -> IngestOptions {
        var options = IngestOptions()
        if let pt {
            for item in pt.split(separator: ",") {
                let parts = item.split(separator: "=")
                guard parts.count == 2, let type = UInt8(parts[0]), let codec = Codec(encodingName: String(parts[1])) else {
                    throw ValidationError("--pt: '\(item)' is not PT=CODEC with CODEC one of opus, vp8, vp9, h264")
                }
                options.payloadTypes[type] = codec
            }
        }
        if let sdp {
            guard let text = try? String(contentsOfFile: sdp, encoding: .utf8) else { throw ValidationError("--sdp: cannot read \(sdp)") }
            do { options.sdp = try SessionDescription(parsing: text) } catch { throw ValidationError("--sdp \(sdp): \(error)") }
        }
        for mapping in participants {
            guard let eq = mapping.lastIndex(of: "="), eq != mapping.startIndex else {
                throw ValidationError("--participant: '\(mapping)' is not FILE=NAME")
            }
            options.participantByFile[String(mapping[..<eq])] = String(mapping[mapping.index(after: eq)...])
        }
        return options
    }
}

struct Transcode: LoggingCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn captured RTP dumps into WebM: a composite of the room and/or one file per participant.")

    @OptionGroup var input: InputOptions

    @Option(help: "Pipeline preset name (Pipelines/NAME.yaml) or YAML file: grid-720p (default), speaker-1080p, audio-only, tracks, grid-720p-tracks.")
    var pipeline: String?

    @Flag(help: "Write one WebM per participant, remuxed without transcoding (alone: only those; with --pipeline: as well).")
    var tracks = false

    @Option(help: "Output: a file name ending in .webm (the composite; per-participant files go beside it) or a folder.")
    var out: String

    @Flag(help: "Overwrite existing output files.")
    var force = false

    @Flag(help: "The inputs are folders of many rooms: group their Janus .mjr files by room and meeting (other captures: by folder) and write <out>/<room>-<UTC start>.webm per group; groups already done are skipped.")
    var batch = false

    @Option(name: [.customShort("j"), .customLong("jobs")], help: "With --batch: groups transcoded at once (default 1).")
    var jobs: Int?

    @Option(help: ArgumentHelp(segmentHelp, valueName: "duration"))
    var segment: String?

    @Option(help: ArgumentHelp(maxPictureHelp, valueName: "WxH"))
    var maxPicture: String?

    @OptionGroup(title: "Logging") var logging: LogOptions

    func validate() throws {
        _ = try segmentSeconds(segment)
        _ = try pictureLimit(maxPicture)
        if !batch, jobs != nil { throw ValidationError("-j/--jobs needs --batch") }
        if batch {
            if let jobs, !(1...64).contains(jobs) { throw ValidationError("-j must be 1...64") }
            if out.lowercased().hasSuffix(".webm") { throw ValidationError("--out with --batch is a folder, not a .webm file") }
        }
    }

    func run() throws {
        if batch { return try runBatch() }
        try runJob {
            let options = try input.ingestOptions()
            let config = try pipelineConfig()
            let files = try expandInputs(input.inputs)
            let reporter = ProgressReporter(logging)
            let result = try TranscodeJob.run(inputs: files, out: OutputLocation(out), pipeline: config, options: options,
                                              overwrite: force, progress: { reporter.report($0) })
            reporter.end()
            for warning in result.warnings { logger.warning("\(warning)") }
            for output in result.outputs { print(outputLine(output)) }
            if let composite = result.composite {
                let stats = String(format: "composite: %d video frames, %d audio blocks; mixing %.2fs, composing %.2fs",
                                   composite.videoFrames, composite.audioBlocks, composite.mixSeconds, composite.composeSeconds)
                logger.debug("\(stats)")
            }
        }
    }

    private func pipelineConfig() throws -> PipelineConfig {
        var config: PipelineConfig
        do {
            config = try PipelineConfig.load(pipeline ?? (tracks ? "tracks" : "grid-720p"))
        } catch {
            throw ValidationError("--pipeline: \(error)")
        }
        if tracks { config.tracks = true }
        if let seconds = try segmentSeconds(segment) { config.segmentSeconds = seconds }
        if let limit = try pictureLimit(maxPicture) { config.maxPicture = limit }
        return config
    }

    /// `--batch`: one transcode per group, a progress line for the whole batch, a summary line per
    /// group. Exit 0 when no group failed; else 65 when any failed on bad input, otherwise the
    /// code of the failures (74 for I/O errors), each mapped as `runJob` maps a single transcode's.
    private func runBatch() throws {
        try runJob {
            let settings = BatchSettings(outDir: out, pipeline: try pipelineConfig(), options: try input.ingestOptions(),
                                         force: force, jobs: jobs ?? 1)
            let groups = BatchGrouping.groups(try BatchTranscodeJob.discover(input.inputs))
            if groups.isEmpty { logger.warning("no capture files below \(input.inputs.joined(separator: " "))") }
            let reporter = ProgressReporter(logging)
            let results = BatchTranscodeJob.run(groups: groups, settings: settings) { progress in
                if let media = progress.media {
                    reporter.report(media)
                    // On a terminal the bar stays one line: the group count goes at its end.
                    if reporter.drawsBar { FileHandle.standardError.write(Data("groups \(progress.groupsDone)/\(progress.groupsTotal)  ".utf8)) }
                }
                if !reporter.drawsBar, let ended = progress.ended {
                    logger.info("progress", metadata: ["groups": "\(progress.groupsDone)/\(progress.groupsTotal)", "group": "\(ended.group.name)",
                                                       "outcome": "\(ended.outcome.word)"])
                }
            }
            reporter.end()
            for result in results {
                for warning in result.warnings { logger.warning("\(result.group.name): \(warning)", metadata: ["group": "\(result.group.name)"]) }
            }
            let summary = BatchSummary(results)
            for line in summary.lines { print(line) }
            print(summary.totalLine)
            var codes: [Int32] = []
            for result in results {
                guard case .failed(let error) = result.outcome else { continue }
                // The single-transcode mapping (it also logs the error).
                do { try runJob { throw error } } catch let exit as ExitCode { codes.append(exit.rawValue) } catch { codes.append(ExitCodes.ioError) }
            }
            if let worst = codes.max() { throw ExitCode(codes.contains(ExitCodes.badInput) ? ExitCodes.badInput : worst) }
        }
    }
}

/// A progress bar when the log is human lines on a terminal (position, speed as × realtime, ETA);
/// `progress` log lines every 10 s otherwise.
final class ProgressReporter: @unchecked Sendable {
    /// Whether progress is drawn as a bar on stderr (not logged).
    let drawsBar: Bool
    private var lastLine = -1.0
    private var drawn = false

    init(_ logging: LogOptions) {
        drawsBar = LogSettings.current(logging).format == .human && isatty(STDERR_FILENO) != 0
    }

    func report(_ p: JobProgress) {
        let speed = p.elapsedSeconds > 0 ? p.mediaSeconds / p.elapsedSeconds : 0
        let eta = speed > 0 ? max(0, (p.totalSeconds - p.mediaSeconds) / speed) : 0
        let fraction = p.totalSeconds > 0 ? min(1, p.mediaSeconds / p.totalSeconds) : 1
        if drawsBar {
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write(Data(String(format: "\r[%@] %3.0f%% %@/%@ %.1fx ETA %@ ", bar, fraction * 100,
                                                        clock(p.mediaSeconds), clock(p.totalSeconds), speed, clock(eta)).utf8))
            drawn = true
        } else if p.elapsedSeconds - lastLine >= 10 || fraction >= 1 {
            lastLine = p.elapsedSeconds
            // Numbers, so JSON lines carry numbers: media seconds done and in all, speed (× real time), seconds left.
            func rounded(_ value: Double, _ places: Double) -> Logger.MetadataValue {
                .stringConvertible((value * places).rounded() / places)
            }
            logger.info("progress", metadata: ["position_seconds": rounded(p.mediaSeconds, 10), "total_seconds": rounded(p.totalSeconds, 10),
                                               "speed": rounded(speed, 100), "eta_seconds": rounded(eta, 1)])
        }
    }

    func end() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

struct Inspect: LoggingCommand {
    static let configuration = CommandConfiguration(abstract: "Print per-stream facts of RTP dumps.")

    @OptionGroup var input: InputOptions

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup(title: "Logging") var logging: LogOptions

    func run() throws {
        try runJob {
            let options = try input.ingestOptions()
            let report = try InspectJob.run(inputs: try expandInputs(input.inputs), options: options)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(InspectJob.table(report))
            }
        }
    }
}

struct Synth: LoggingCommand {
    static let configuration = CommandConfiguration(abstract: "Make a synthetic room whose tones and colours tests can check.")

    @Option(help: "Number of participants (1-64).") var participants = 2
    @Option(help: "Length, e.g. 10s, 2m, 1h.") var seconds = "10s"
    @Option(help: "mjr (a folder of Janus recordings), pcap or rtpdump.") var format = "mjr"
    @Option(help: "Output folder (mjr) or file.") var out: String
    @Option(help: "vp8 or vp9.") var codec = "vp8"
    @Option(name: .customLong("h264"), help: "Participant I sends H.264 (like Safari) instead of --codec (repeatable).") var h264: [Int] = []
    @Option(help: "Picture size WxH.") var size = "640x360"
    @Option(help: "Frames per second.") var fps = 30
    @Option(help: "Video bitrate, kbit/s.") var videoKbps = 400
    @Option(help: "Keyframe interval in frames.") var keyframeInterval = 90
    @Option(help: "Fraction of packets lost (0-1).") var loss = 0.0
    @Option(help: "Fraction of packets reordered (0-1).") var reorder = 0.0
    @Option(help: "Fraction of packets duplicated (0-1).") var duplicate = 0.0
    @Option(help: "Random extra delay per packet, e.g. 30ms.") var jitter = "0s"
    @Option(help: "Participant I joins late: I@TIME, e.g. 2@5s (repeatable).") var join: [String] = []
    @Option(help: "Participant I leaves early: I@TIME (repeatable).") var leave: [String] = []
    @Option(help: "Halve every picture's size at this time.") var resolutionChangeAt: String?
    @Option(help: ArgumentHelp("Participant I's keyframes from time T on declare WxH in their headers: I@T=WxH (a hostile stream for tests).",
                               visibility: .hidden))
    var declareSize: [String] = []
    @Option(help: "White flash with an audio click every this often (A/V sync checks).") var flashEvery: String?
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Flag(help: "Audio only.") var audioOnly = false
    @Option(help: "Peak of each tone as a fraction of full scale.") var toneAmplitude = 0.3
    @OptionGroup(title: "Logging") var logging: LogOptions

    func run() throws {
        var options = SynthOptions()
        options.participants = participants
        guard (1...64).contains(participants) else { throw ValidationError("--participants must be 1...64") }
        options.seconds = try duration(seconds, "--seconds")
        guard let codec = Codec(encodingName: codec), codec == .vp8 || codec == .vp9 else { throw ValidationError("--codec: vp8 or vp9") }
        options.videoCodec = codec
        for index in h264 where !(0..<participants).contains(index) {
            throw ValidationError("--h264: participant \(index) is not below --participants \(participants)")
        }
        options.h264Participants = Set(h264)
        let dims = size.lowercased().split(separator: "x").compactMap { Int($0) }
        guard dims.count == 2, (16...4096).contains(dims[0]), (16...4096).contains(dims[1]) else { throw ValidationError("--size: WxH, e.g. 640x360") }
        options.width = dims[0] & ~1
        options.height = dims[1] & ~1
        options.fps = fps
        options.videoBitrateKbps = videoKbps
        options.keyframeInterval = keyframeInterval
        for (name, value) in [("--loss", loss), ("--reorder", reorder), ("--duplicate", duplicate)] where !(0...1).contains(value) {
            throw ValidationError("\(name) must be a fraction 0...1")
        }
        options.loss = loss
        options.reorder = reorder
        options.duplicate = duplicate
        options.jitterMillis = try duration(jitter, "--jitter") * 1000
        options.joinAt = try schedule(join, "--join")
        options.leaveAt = try schedule(leave, "--leave")
        options.resolutionChangeAt = try resolutionChangeAt.map { try duration($0, "--resolution-change-at") }
        for item in declareSize {
            let parts = item.split(separator: "=")
            guard parts.count == 2, let size = PictureSize(parsing: String(parts[1])),
                  let start = try schedule([String(parts[0])], "--declare-size").first else {
                throw ValidationError("--declare-size: '\(item)' is not INDEX@TIME=WxH")
            }
            options.declaredSize[start.key] = (start.value, size)
        }
        options.flashEvery = try flashEvery.map { try duration($0, "--flash-every") }
        options.seed = seed
        options.audioOnly = audioOnly
        guard (0...1).contains(toneAmplitude) else { throw ValidationError("--tone-amplitude must be 0...1") }
        options.toneAmplitude = toneAmplitude
        guard let format = SynthFormat(rawValue: format) else { throw ValidationError("--format: mjr, pcap or rtpdump") }
        try runJob {
            let (paths, stats) = try SynthJob.run(options: options, format: format, out: out)
            for path in paths { print("wrote \(path)") }
            logger.info("synth: \(stats.audioFrames) audio frames, \(stats.videoFrames) video frames, \(stats.packetsSent) packets sent, \(stats.packetsDropped) dropped, \(stats.packetsDuplicated) duplicated, \(stats.packetsReordered) reordered")
        }
    }

    private func duration(_ text: String, _ flag: String) throws -> Double {
        guard let value = parseDuration(text) else { throw ValidationError("\(flag): '\(text)' is not a duration like 90s, 15m, 1h30m") }
        return value
    }

    private func schedule(_ items: [String], _ flag: String) throws -> [Int: Double] {
        var map: [Int: Double] = [:]
        for item in items {
            let parts = item.split(separator: "@")
            guard parts.count == 2, let index = Int(parts[0]), index >= 0, index < participants, let t = parseDuration(String(parts[1])) else {
                throw ValidationError("\(flag): '\(item)' is not INDEX@TIME with INDEX below --participants")
            }
            map[index] = t
        }
        return map
    }
}

/// `--segment`'s help, shared by transcode, record and recover.
let segmentHelp = """
    Cut every output into files of this length at keyframes, with no gap and no overlap (whole seconds, at least 10s, \
    e.g. 15m): <name>.webm becomes <name>-000.webm, <name>-001.webm, … and <name>.<participant>.webm becomes \
    <name>.<participant>-NNN.webm, NNN the segment of room time the file starts in. Each file's timestamps start at 0; \
    the file being written stays .partial until it is finished.
    """

/// `--segment DURATION` as whole seconds (nil when not given), or a usage error.
func segmentSeconds(_ text: String?) throws -> Int? {
    guard let text else { return nil }
    do { return try parseSegmentLength(text) } catch { throw ValidationError("--segment: \(error)") }
}

/// `--max-picture`'s help, shared by transcode, record and recover.
let maxPictureHelp = """
    The largest picture a video stream may declare, either way up (default 4096x2304; 16x16 to 16384x16384). A stream \
    whose keyframe header (VP8, VP9) or SPS (H.264) declares a larger one is not recorded from that frame on, before \
    any decoder or file sees it; a warning and the manifest say so, and the participant's audio goes on.
    """

/// `--max-picture WxH` (nil when not given), or a usage error.
func pictureLimit(_ text: String?) throws -> PictureSizeLimit? {
    guard let text else { return nil }
    let range = 16...PictureSizeLimit.largest.width
    guard let size = PictureSize(parsing: text), range.contains(size.width), range.contains(size.height) else {
        throw ValidationError("--max-picture: '\(text)' is not WxH with each side 16...\(range.upperBound), e.g. 4096x2304")
    }
    return PictureSizeLimit(size)
}

/// The line printed for each file written.
func outputLine(_ output: OutputFile) -> String {
    let start = output.startSeconds.map { String(format: " start=%.3fs", $0) } ?? ""
    let who = output.name == "composite" ? "composite" : "participant=\(output.name)"
    return "wrote \(output.path)  \(who)\(start) duration=\(String(format: "%.3f", output.durationSeconds))s"
}

/// Runs a job, turning its errors into an error log line and the documented exit code.
func runJob(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ValidationError {
        throw error
    } catch let error as ExitCode {
        throw error
    } catch {
        logger.error("\(error)")
        throw ExitCode(exitCode(for: error))
    }
}

/// The documented exit code of a job's error.
private func exitCode(for error: any Error) -> Int32 {
    switch error {
    case is CaptureError, is IngestError, is JobError: ExitCodes.badInput
    case let error as CannotStart: error.kind == .diskFull ? ExitCodes.ioError : ExitCodes.locked
    case is RoomUnavailable: ExitCodes.unavailable
    case is PipelineConfigError: ExitCodes.usage
    case is OutputExists, is CannotCreateOutput: ExitCodes.cannotCreateOutput
    case let error as WebMError where error.cannotCreate: ExitCodes.cannotCreateOutput
    case let error as CocoaError where error.code == .fileWriteNoPermission || error.code == .fileWriteVolumeReadOnly:
        ExitCodes.cannotCreateOutput
    default: ExitCodes.ioError
    }
}

runMain()
