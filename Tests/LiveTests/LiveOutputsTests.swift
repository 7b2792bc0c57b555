import Capture
import Foundation
import Ingest
import Jobs
import Media
import Pipeline
import RTP
import Synth
import Testing
@testable import Live

/// The outputs made while recording against `transcode` of the same packets: the same files with
/// the same frames, and the same lengths.
@Suite struct LiveOutputsTests {
    /// A synthetic room (three participants, the third joining at 3 s and the first leaving at 8 s,
    /// with loss and reordering) as one pcap, one UDP flow per participant.
    private func room(_ folder: String, seconds: Double = 10) throws -> String {
        var options = SynthOptions()
        options.participants = 3
        options.seconds = seconds
        options.width = 160
        options.height = 96
        options.fps = 15
        options.loss = 0.005
        options.reorder = 0.01
        options.joinAt = [2: 3]
        options.leaveAt = [0: 8]
        let path = folder + "/room.pcap"
        try SynthJob.run(options: options, format: .pcap, out: path)
        return path
    }

    /// Two participants for 6 s at 160x96, 15 fps, as one pcap; `adjust` changes the room.
    private func twoPeople(_ folder: String, _ adjust: (inout SynthOptions) -> Void) throws -> String {
        var options = SynthOptions()
        options.participants = 2
        options.seconds = 6
        options.width = 160
        options.height = 96
        options.fps = 15
        adjust(&options)
        let path = folder + "/room.pcap"
        try SynthJob.run(options: options, format: .pcap, out: path)
        return path
    }

    private var pipeline: PipelineConfig {
        get throws {
            var config = try PipelineConfig.load("grid-720p")
            config.composite?.video?.width = 320
            config.composite?.video?.height = 180
            config.tracks = true
            return config
        }
    }

    /// Feeds every packet of `capture` to ``LiveOutputs`` as a recording would (one source per
    /// flow), on the capture's own clock; RTCP only from `rtcpAfterMicros` after the first packet
    /// (a WebRTC sender's first report comes half a second to a second and a half in).
    private func live(_ capture: String, out: String, pipeline: PipelineConfig? = nil,
                      rtcpAfterMicros: Int64 = 0, warn: (@Sendable (String) -> Void)? = nil) throws -> (outputs: [OutputFile], warnings: [String]) {
        let clock = SettableClock()
        let outputs = LiveOutputs(out: OutputLocation(out), pipeline: try pipeline ?? self.pipeline, overwrite: false, blockWhenFull: true,
                                  clock: { clock.micros }, warn: warn)
        let reader = try openCaptureReader(path: capture)
        var first: Int64?
        while let packet = try reader.next() {
            let participant = "\(packet.flow?.source ?? "?")-\(packet.flow?.sourcePort ?? 0)"
            first = first ?? packet.arrivalMicros
            if isRTCP(packet.data), packet.arrivalMicros - first! < rtcpAfterMicros { continue }
            clock.micros = packet.arrivalMicros
            outputs.add(source: outputs.source(capturePath: participant), participant: participant, bytes: packet.data,
                        arrivalMicros: packet.arrivalMicros)
        }
        return try outputs.finish()
    }

    @Test func liveOutputsMatchTheTranscodeOfTheSamePackets() throws {
        let folder = NSTemporaryDirectory() + "flowrec-live-outputs-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let capture = try room(folder)
        let made = try live(capture, out: folder + "/live")
        let reference = try TranscodeJob.run(inputs: [capture], out: OutputLocation(folder + "/transcode"), pipeline: try pipeline,
                                             options: IngestOptions(payloadTypes: ParticipantCapture.payloadTypes))
        // Participants are named by flow here and by RTCP CNAME in the transcode; their order is the same.
        #expect(made.outputs.count == 4 && made.outputs.count == reference.outputs.count, "\(made.outputs) vs \(reference.outputs)")
        for (a, b) in zip(made.outputs, reference.outputs) {
            #expect(a.frames == b.frames, "\(a.name): \(a.frames) frames live, \(b.frames) transcoded")
            #expect(abs(a.durationSeconds - b.durationSeconds) < 0.05, "\(a.name): \(a.durationSeconds) s live, \(b.durationSeconds) s transcoded")
            #expect(FileManager.default.fileExists(atPath: a.path) && !FileManager.default.fileExists(atPath: a.path + ".partial"))
        }
        #expect(made.outputs.first?.durationSeconds ?? 0 > 9.5)
    }

    /// Each participant's audio and video line up as the sender sent them (its Sender Reports), not
    /// as the first packets' jitter would have it: the same offset as `transcode`, to the millisecond.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/ffprobe")))
    func lipSyncFollowsTheSendersClocksDespiteJitter() throws {
        let folder = NSTemporaryDirectory() + "flowrec-live-outputs-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let capture = try twoPeople(folder) { $0.jitterMillis = 40 }
        var tracksOnly = try pipeline
        tracksOnly.composite = nil
        let made = try live(capture, out: folder + "/live", pipeline: tracksOnly, rtcpAfterMicros: 1_000_000)
        let reference = try TranscodeJob.run(inputs: [capture], out: OutputLocation(folder + "/transcode"), pipeline: tracksOnly,
                                             options: IngestOptions(payloadTypes: ParticipantCapture.payloadTypes))
        #expect(made.outputs.count == 2 && reference.outputs.count == 2)
        for (a, b) in zip(made.outputs, reference.outputs) {
            let live = try firstPacketTimes(a.path), transcoded = try firstPacketTimes(b.path)
            #expect(live.count == 2 && transcoded.count == 2, "\(live) \(transcoded)")
            let liveOffset = (live[0] ?? 0) - (live[1] ?? 0), transcodedOffset = (transcoded[0] ?? 0) - (transcoded[1] ?? 0)
            #expect(abs(liveOffset - transcodedOffset) <= 0.002,
                    "\(a.name): video starts \(liveOffset) s after audio live, \(transcodedOffset) s in the transcode")
        }
    }

    /// The first packet's time of each stream index of a WebM (ffprobe).
    private func firstPacketTimes(_ path: String) throws -> [Int: Double] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
        process.arguments = ["-v", "error", "-show_entries", "packet=stream_index,pts_time", "-of", "csv=p=0", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        var first: [Int: Double] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ",")
            guard fields.count == 2, let index = Int(fields[0]), let time = Double(fields[1]) else { continue }
            first[index] = min(first[index] ?? time, time)
        }
        return first
    }

    @Test func segmentedLiveOutputsMatchTheTranscodeToo() throws {
        let folder = NSTemporaryDirectory() + "flowrec-live-outputs-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let capture = try room(folder, seconds: 25)
        var segmented = try pipeline
        segmented.segmentSeconds = 10
        let made = try live(capture, out: folder + "/live", pipeline: segmented)
        let reference = try TranscodeJob.run(inputs: [capture], out: OutputLocation(folder + "/transcode"), pipeline: segmented,
                                             options: IngestOptions(payloadTypes: ParticipantCapture.payloadTypes))
        // The composite in three files, each participant in one a keyframe (every 6 s) after each boundary it saw.
        #expect(made.outputs.filter { $0.name == "composite" }.map(\.startSeconds) == [0, 10, 20])
        #expect(made.outputs.count == reference.outputs.count, "\(made.outputs) vs \(reference.outputs)")
        for (a, b) in zip(made.outputs, reference.outputs) {
            let number = { (path: String) in path.split(separator: "-").last.map(String.init) ?? "" }
            #expect(number(a.path) == number(b.path), "\(a.path) live, \(b.path) transcoded")
            #expect(a.frames == b.frames, "\(a.path): \(a.frames) frames live, \(b.frames) transcoded")
            #expect(abs(a.durationSeconds - b.durationSeconds) < 0.05 && abs((a.startSeconds ?? -1) - (b.startSeconds ?? 1)) < 0.05,
                    "\(a.path): \(a.startSeconds ?? -1) + \(a.durationSeconds) s live, \(b.startSeconds ?? -1) + \(b.durationSeconds) s transcoded")
            #expect(FileManager.default.fileExists(atPath: a.path) && !FileManager.default.fileExists(atPath: a.path + ".partial"))
        }
    }

    /// Twenty seconds of packets at once: the worker is far behind, encodes the composite at top
    /// speed until it has caught up, says so, and still writes every frame.
    @Test func aBacklogIsCaughtUpAtTopSpeed() throws {
        let folder = NSTemporaryDirectory() + "flowrec-live-outputs-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let capture = try room(folder, seconds: 20)
        let outputs = LiveOutputs(out: OutputLocation(folder + "/live"), pipeline: try pipeline, overwrite: false, maxQueuedPackets: 100_000)
        let reader = try openCaptureReader(path: capture)
        while let packet = try reader.next() {
            let participant = "\(packet.flow?.source ?? "?")"
            outputs.add(source: outputs.source(capturePath: participant), participant: participant, bytes: packet.data,
                        arrivalMicros: packet.arrivalMicros)
        }
        let made = try outputs.finish()
        #expect(outputs.progress.catchUps >= 1, "\(outputs.progress)")
        #expect(made.warnings.contains { $0.contains("top speed") }, "\(made.warnings)")
        let composite = try #require(made.outputs.first { $0.name == "composite" })
        #expect(abs(composite.durationSeconds - 20) < 0.1, "\(composite)")
        // Every 1/30 s canvas frame and every 20 ms audio block of 20 s is there.
        #expect(composite.frames >= 600 + 1000 - 2, "\(composite)")
    }

    /// A stream whose keyframes declare 16383x16383 from 3 s on: the live outputs say so as it happens
    /// (what `record` logs) and at the end, and its participant's output says why its video stopped.
    @Test func aHugePictureMidStreamIsWarnedOfAtOnceAndInTheOutputs() throws {
        let folder = NSTemporaryDirectory() + "flowrec-live-outputs-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let capture = try twoPeople(folder) { options in
            options.keyframeInterval = 15
            options.declaredSize = [1: (3, PictureSize(width: 16383, height: 16383))]
        }
        let heard = Heard()
        let made = try live(capture, out: folder + "/live", warn: { heard.append($0) })
        #expect(heard.all.count == 1 && heard.all.first?.contains("16383x16383") == true, "\(heard.all)")
        #expect(made.warnings.filter { $0.contains("16383x16383") && $0.contains("--max-picture 4096x2304") }.count == 1, "\(made.warnings)")
        let rejected = made.outputs.filter { $0.video?.rejected != nil }
        try #require(rejected.count == 1, "\(made.outputs)")
        let video = try #require(rejected[0].video?.rejected?.first)
        #expect(abs(video.fromSeconds - 3) < 0.1 && video.width == 16383 && video.framesDropped == 45, "\(video)")
        // The manifest holds the outputs as they are: the reason is in its JSON.
        let json = String(decoding: try JSONEncoder().encode(rejected[0]), as: UTF8.self)
        #expect(json.contains("\"rejected\"") && json.contains("over --max-picture"), "\(json)")
    }

    @Test func fallingBehindGivesTheLiveOutputsUpAndLeavesNoFinishedFile() throws {
        let folder = NSTemporaryDirectory() + "flowrec-live-outputs-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let capture = try room(folder)
        let outputs = LiveOutputs(out: OutputLocation(folder + "/live"), pipeline: try pipeline, overwrite: false, maxQueuedPackets: 50)
        let reader = try openCaptureReader(path: capture)
        while let packet = try reader.next() {
            outputs.add(source: 0, participant: "p", bytes: packet.data, arrivalMicros: packet.arrivalMicros)
        }
        #expect(outputs.progress.failure?.contains("fell 50 packets behind") == true, "\(outputs.progress)")
        #expect(throws: JobError.self) { try outputs.finish() }
        // Nothing poses as finished (the worker may not have opened anything before the queue filled).
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/live")) ?? []
        #expect(!names.contains { $0.hasSuffix(".webm") }, "\(names)")
    }
}

/// Warnings heard on the live outputs' thread.
private final class Heard: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}
