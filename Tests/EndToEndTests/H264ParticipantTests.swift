import Foundation
import Media
import Synth
import Testing
import VideoCompose

/// A Safari-like participant sending H.264 (`flowrec synth --h264 I`): sniffed without `--pt`, its audio alone
/// in its `--tracks` file (WebM cannot hold H.264) with a warning, its video decoded into the composite.
@Suite(.serialized) struct H264ParticipantTests {
    static let toolsPresent = Tool.exists("ffprobe") && Tool.exists("ffmpeg") && H264Encoder.isAvailable
    static let tones = (0..<8).map { SynthParticipant(index: $0).toneHz }

    private func synth(_ dir: String, format: String, _ extra: [String] = []) throws -> String {
        let input = format == "mjr" ? dir + "/room" : dir + "/room.\(format)"
        let synth = try Tool.flowrec(arguments: ["synth", "--participants", "2", "--seconds", "4s", "--format", format,
                                                 "--h264", "1", "--out", input] + extra)
        try #require(synth.status == 0, "synth: \(synth.stderr)")
        return input
    }

    private func expectColour(_ picture: I420Frame, _ rect: PixelRect, participant: Int, _ what: String,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        let colour = picture.averageColor(in: rect)
        let p = SynthParticipant(index: participant)
        #expect(abs(colour.y - Double(p.y)) < 14 && abs(colour.u - Double(p.u)) < 14 && abs(colour.v - Double(p.v)) < 14,
                "\(what): \(rect) shows \(colour), expected participant \(participant) (\(p.y), \(p.u), \(p.v))",
                sourceLocation: sourceLocation)
    }

    @Test(.enabled(if: toolsPresent), arguments: ["pcap", "rtpdump", "mjr"])
    func tracksHoldTheH264ParticipantsAudioOnlyWithAWarning(format: String) throws {
        let dir = try Tool.temporaryFolder("h264tracks\(format)")
        let input = try synth(dir, format: format)
        let out = dir + "/tracks"
        let result = try Tool.flowrec("transcode", input, "--tracks", "--out", out)
        try #require(result.status == 0, "transcode: \(result.stderr)")
        let names = format == "mjr" ? ["1001", "1002"] : ["user-1001", "user-1002"]
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == names.map { $0 + ".webm" })

        // The warning names the participant and H.264, and nobody else gets one.
        let warnings = LogLines.messages(result.stderr, level: "warning")
        #expect(warnings.count == 1, "\(warnings)")
        #expect(warnings.first?.contains(names[1]) == true && warnings.first?.contains("H.264") == true
                && warnings.first?.contains("composite") == true, "\(warnings)")

        // Participant 1: Opus only, the whole length, its own tone.
        let h264Path = out + "/" + names[1] + ".webm"
        let probe = try Probe(h264Path)
        #expect(probe.streams.count == 1 && probe.video == nil && probe.audio?.codec == "opus", "\(probe.streams.map(\.codec))")
        #expect(abs(probe.duration - 4) < 0.1, "duration \(probe.duration)")
        #expect(try Decode.errors(h264Path).isEmpty)
        let samples = try Decode.audio(h264Path)
        #expect(dominantFrequency(samples, sampleRate: 48_000, candidates: Self.tones) == SynthParticipant(index: 1).toneHz)

        // Participant 0 is unaffected: VP8 and Opus, every frame, its colour and tone.
        let vp8Path = out + "/" + names[0] + ".webm"
        let other = try Probe(vp8Path)
        #expect(other.video?.codec == "vp8" && other.audio?.codec == "opus")
        #expect(other.video?.frames == 120, "\(other.video?.frames ?? 0) video frames")
        #expect(abs(other.duration - 4) < 0.1, "duration \(other.duration)")
        let picture = try Decode.picture(vp8Path, at: 2, width: 640, height: 360)
        expectColour(picture, PixelRect(x: 0, y: 0, width: 640, height: 90), participant: 0, "participant 0")
        #expect(dominantFrequency(try Decode.audio(vp8Path), sampleRate: 48_000, candidates: Self.tones) == SynthParticipant(index: 0).toneHz)
    }

    /// The composite decodes the H.264 participant like any other (sniffed from the pcap, no `--pt`).
    @Test(.enabled(if: toolsPresent), arguments: [false, true])
    func compositeShowsTheH264Participant(resolutionChange: Bool) throws {
        let dir = try Tool.temporaryFolder("h264composite\(resolutionChange)")
        let input = try synth(dir, format: "pcap", resolutionChange ? ["--resolution-change-at", "1s"] : [])
        let out = dir + "/room.webm"
        let result = try Tool.flowrec("transcode", input, "--pipeline", "grid-720p", "--out", out)
        try #require(result.status == 0, "transcode: \(result.stderr)")
        #expect(LogLines.messages(result.stderr, level: "warning").isEmpty, "\(result.stderr)")
        #expect(try Decode.errors(out).isEmpty)
        let probe = try Probe(out)
        #expect(probe.video?.codec == "vp8" && probe.video?.width == 1280 && probe.video?.height == 720)
        #expect(abs(probe.duration - 4) < 0.15, "duration \(probe.duration)")

        let tiles = Layout.tiles(.grid, count: 2, active: 0, canvasWidth: 1280, canvasHeight: 720)
        for time in [0.5, 2.0, 3.5] {
            let picture = try Decode.picture(out, at: time, width: 1280, height: 720)
            for participant in 0..<2 {
                // The picture (16:9, also after the halving) is letterboxed in its tile.
                let rect = Layout.fit(sourceWidth: 640, sourceHeight: 360, in: tiles[participant])
                // The band above the moving marker, away from the picture's edges.
                let band = PixelRect(x: rect.x + rect.width / 8, y: rect.y + rect.height / 10, width: rect.width * 3 / 4, height: rect.height / 6)
                expectColour(picture, band, participant: participant, "t=\(time)s participant \(participant)")
            }
        }
        let samples = try Decode.audio(out)
        let window = Array(samples[48_000..<(3 * 48_000)])
        #expect(Self.tones[0..<2].allSatisfy { goertzelPower(window, frequency: $0, sampleRate: 48_000) > 1e-4 })
    }
}
