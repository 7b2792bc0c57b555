import Capture
import Foundation
import Ingest
import Jobs
import Pipeline
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
    /// flow), on the capture's own clock.
    private func live(_ capture: String, out: String, pipeline: PipelineConfig? = nil) throws -> (outputs: [OutputFile], warnings: [String]) {
        let clock = SettableClock()
        let outputs = LiveOutputs(out: OutputLocation(out), pipeline: try pipeline ?? self.pipeline, overwrite: false, blockWhenFull: true,
                                  clock: { clock.micros })
        let reader = try openCaptureReader(path: capture)
        while let packet = try reader.next() {
            let participant = "\(packet.flow?.source ?? "?")-\(packet.flow?.sourcePort ?? 0)"
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
