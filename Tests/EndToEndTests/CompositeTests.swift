import Foundation
import Media
import Synth
import Testing
import VideoCompose

/// synth room → `flowrec transcode --pipeline …` → decode the composite: tones in the mix while
/// each participant is present, each tile's colour where the layout puts it, joins and leaves
/// reflowing the grid, a limiter that never wraps, A/V sync.
@Suite(.serialized) struct CompositeTests {
    static let toolsPresent = Tool.exists("ffprobe") && Tool.exists("ffmpeg")
    static let tones = (0..<8).map { SynthParticipant(index: $0).toneHz }

    private func composite(_ synthArgs: [String], pipeline: String = "grid-720p", name: String = #function) throws -> String {
        let dir = try Tool.temporaryFolder(name)
        let input = dir + "/room.pcap"
        let synth = try Tool.flowrec(arguments: ["synth", "--format", "pcap", "--out", input] + synthArgs)
        try #require(synth.status == 0, "synth: \(synth.stderr)")
        let out = dir + "/room.webm"
        let result = try Tool.flowrec("transcode", input, "--pipeline", pipeline, "--out", out)
        try #require(result.status == 0, "transcode: \(result.stderr)")
        return out
    }

    /// Tone powers in a window of the decoded mix, by participant index.
    private func tonePowers(_ samples: [Int16], from start: Double, to end: Double) -> [Double] {
        let window = Array(samples[Int(start * 48_000)..<min(samples.count, Int(end * 48_000))])
        return Self.tones.map { goertzelPower(window, frequency: $0, sampleRate: 48_000) }
    }

    private func expectColour(_ picture: I420Frame, _ rect: TileRect, participant: Int, _ what: String) {
        // The band above the moving marker, away from the tile's edges.
        let band = PixelRect(x: rect.x + rect.width / 8, y: rect.y + rect.height / 10, width: rect.width * 3 / 4, height: rect.height / 6)
        let colour = picture.averageColor(in: band)
        let p = SynthParticipant(index: participant)
        #expect(abs(colour.y - Double(p.y)) < 14 && abs(colour.u - Double(p.u)) < 14 && abs(colour.v - Double(p.v)) < 14,
                "\(what): tile \(rect) shows \(colour), expected participant \(participant) (\(p.y), \(p.u), \(p.v))")
    }

    @Test(.enabled(if: toolsPresent))
    func fourParticipantsJoinAndLeaveReflowTheGrid() throws {
        let out = try composite(["--participants", "4", "--seconds", "9s", "--join", "3@3s", "--leave", "0@5s"])
        let probe = try Probe(out)
        #expect(probe.video?.codec == "vp8" && probe.video?.width == 1280 && probe.video?.height == 720)
        #expect(probe.audio?.codec == "opus")
        #expect(abs(probe.duration - 9) < 0.15, "duration \(probe.duration)")
        #expect(try Decode.errors(out).isEmpty)

        // Audio: who is heard when (participant 0 leaves at 5 s, 3 joins at 3 s).
        let samples = try Decode.audio(out)
        let early = tonePowers(samples, from: 0.5, to: 2.5)
        let middle = tonePowers(samples, from: 3.5, to: 4.8)
        let late = tonePowers(samples, from: 6.5, to: 8.5)
        let heard = 1e-4, silent = 1e-6
        #expect(early[0] > heard && early[1] > heard && early[2] > heard && early[3] < silent, "0.5–2.5 s: \(early)")
        #expect(middle[0...3].allSatisfy { $0 > heard }, "3.5–4.8 s: \(middle)")
        #expect(late[0] < silent && late[1...3].allSatisfy { $0 > heard }, "6.5–8.5 s: \(late)")

        // Video: 3 tiles, then 4 (2×2), then 3 again without participant 0.
        let three = Layout.tiles(.grid, count: 3, active: 0, canvasWidth: 1280, canvasHeight: 720)
        let four = Layout.tiles(.grid, count: 4, active: 0, canvasWidth: 1280, canvasHeight: 720)
        let atTwo = try Decode.picture(out, at: 2, width: 1280, height: 720)
        for (slot, participant) in [0, 1, 2].enumerated() { expectColour(atTwo, three[slot], participant: participant, "t=2s") }
        let atFour = try Decode.picture(out, at: 4, width: 1280, height: 720)
        for (slot, participant) in [0, 1, 2, 3].enumerated() { expectColour(atFour, four[slot], participant: participant, "t=4s") }
        // The 2×2 grid really is quadrants.
        #expect(four.map { $0.x < 640 } == [true, false, true, false] && four.map { $0.y < 360 } == [true, true, false, false])
        let atEight = try Decode.picture(out, at: 8, width: 1280, height: 720)
        for (slot, participant) in [1, 2, 3].enumerated() { expectColour(atEight, three[slot], participant: participant, "t=8s") }
    }

    @Test(.enabled(if: toolsPresent))
    func sixLoudParticipantsNeverWrap() throws {
        let out = try composite(["--participants", "6", "--seconds", "4s", "--tone-amplitude", "0.9", "--size", "320x180"],
                                pipeline: "audio-only")
        let probe = try Probe(out)
        #expect(probe.video == nil && probe.audio?.codec == "opus")
        let samples = try Decode.audio(out)
        let body = Array(samples[24_000..<(samples.count - 24_000)])
        let peak = body.map { abs(Int($0)) }.max() ?? 0
        // Limiter ceiling -1 dBFS (29,204); Opus may overshoot it a little, never reach full scale.
        #expect(peak < 31_000, "peak \(peak)")
        #expect(body.filter { $0 == .max || $0 == .min }.isEmpty)
        let powers = tonePowers(samples, from: 1, to: 3)
        #expect(powers[0..<6].allSatisfy { $0 > 1e-3 }, "every tone is in the mix: \(powers)")
    }

    @Test(.enabled(if: toolsPresent))
    func lossAndReorderStillGiveACompleteFile() throws {
        let out = try composite(["--participants", "2", "--seconds", "6s", "--loss", "0.05", "--reorder", "0.05", "--jitter", "30ms",
                                 "--keyframe-interval", "30"])
        #expect(try Decode.errors(out).isEmpty)
        let probe = try Probe(out)
        #expect(abs(probe.duration - 6) < 0.15, "duration \(probe.duration)")
        #expect(probe.video?.frames == 180, "every composite frame is written: \(probe.video?.frames ?? 0)")
        let powers = tonePowers(try Decode.audio(out), from: 1, to: 5)
        #expect(powers[0] > 1e-4 && powers[1] > 1e-4)
    }

    @Test(.enabled(if: toolsPresent))
    func flashesAndClicksStayInSync() throws {
        let out = try composite(["--participants", "1", "--seconds", "10s", "--flash-every", "2s", "--size", "320x180"])
        // Clicks: 2 ms bursts far above the tone; find each burst's start.
        let samples = try Decode.audio(out)
        var clicks: [Double] = []
        var i = 0
        while i < samples.count {
            if abs(Int(samples[i])) > 20_000 {
                clicks.append(Double(i) / 48_000)
                i += 48_000
            } else {
                i += 1
            }
        }
        // Flashes: frames whose picture turns white.
        let frames = try Tool.run("ffmpeg", ["-v", "error", "-i", out, "-vf", "scale=32:18,format=gray", "-f", "rawvideo", "-"]).output
        let frameSize = 32 * 18
        var flashes: [Double] = []
        var previousWhite = false
        for k in 0..<(frames.count / frameSize) {
            let mean = frames[(k * frameSize)..<((k + 1) * frameSize)].reduce(0) { $0 + Int($1) } / frameSize
            let white = mean > 200
            if white && !previousWhite { flashes.append(Double(k) / 30) }
            previousWhite = white
        }
        #expect(flashes.count == 5 && clicks.count == 5, "flashes \(flashes), clicks \(clicks)")
        for (flash, click) in zip(flashes, clicks) {
            #expect(abs(flash - click) <= 0.040, "flash at \(flash)s, click at \(click)s")
        }
    }
}
