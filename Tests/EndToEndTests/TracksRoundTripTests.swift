import Foundation
import Media
import Synth
import Testing

/// synth → dump → `flowrec transcode --tracks` → decode with ffmpeg/ffprobe, for every capture format.
@Suite(.serialized) struct TracksRoundTripTests {
    static let toolsPresent = Tool.exists("ffprobe") && Tool.exists("ffmpeg")

    /// Makes a room and transcodes it; returns the output folder.
    private func roomToTracks(format: String, extra: [String] = [], seconds: Int = 6, participants: Int = 2,
                              name: String = #function) throws -> (out: String, synthStderr: String) {
        let dir = try Tool.temporaryFolder(name)
        let input = format == "mjr" ? dir + "/room" : dir + "/room.\(format)"
        let synth = try Tool.flowrec(arguments: ["synth", "--participants", "\(participants)", "--seconds", "\(seconds)s",
                                                 "--format", format, "--out", input] + extra)
        try #require(synth.status == 0, "synth failed: \(synth.stderr)")
        let out = dir + "/tracks"
        let transcode = try Tool.flowrec("transcode", input, "--tracks", "--out", out)
        try #require(transcode.status == 0, "transcode failed: \(transcode.stderr)")
        return (out, synth.stderr)
    }

    /// Checks one participant's file: codecs, duration, frame counts, tone, colour, first keyframe.
    private func checkParticipant(_ path: String, index: Int, seconds: Double, videoCodec: String = "vp8",
                                  minVideoShare: Double = 0.98, width: Int = 640, height: Int = 360) throws {
        let probe = try Probe(path)
        let participant = SynthParticipant(index: index)
        #expect(probe.video?.codec == videoCodec, "\(path): video codec")
        #expect(probe.audio?.codec == "opus", "\(path): audio codec")
        #expect(abs(probe.duration - seconds) < 0.1, "\(path): duration \(probe.duration), expected \(seconds)")
        let expectedVideo = Int(seconds * 30)
        let videoFrames = probe.video?.frames ?? 0
        #expect(Double(videoFrames) >= Double(expectedVideo) * minVideoShare && videoFrames <= expectedVideo,
                "\(path): \(videoFrames) video frames, expected \(expectedVideo)")
        #expect(try Decode.videoKeyFlags(path, count: 1) == [true], "\(path): first video packet must be a keyframe")

        let samples = try Decode.audio(path)
        #expect(abs(Double(samples.count) / 48_000 - seconds) < 0.1, "\(path): audio length")
        let candidates = (0..<8).map { SynthParticipant(index: $0).toneHz }
        let middle = Array(samples[(samples.count / 4)..<(samples.count * 3 / 4)])
        #expect(dominantFrequency(middle, sampleRate: 48_000, candidates: candidates) == participant.toneHz, "\(path): tone")

        let picture = try Decode.picture(path, at: seconds / 2, width: width, height: height)
        // Measure a band above the moving marker.
        let colour = picture.averageColor(in: PixelRect(x: 0, y: 0, width: width, height: height / 4))
        #expect(abs(colour.y - Double(participant.y)) < 12 && abs(colour.u - Double(participant.u)) < 12
                && abs(colour.v - Double(participant.v)) < 12,
                "\(path): colour \(colour), expected (\(participant.y), \(participant.u), \(participant.v))")
    }

    @Test(.enabled(if: toolsPresent), arguments: ["mjr", "pcap", "rtpdump"])
    func cleanRoomEveryFormat(format: String) throws {
        let (out, _) = try roomToTracks(format: format, name: "clean\(format)")
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(!files.contains { $0.hasSuffix(".partial") })
        let names = format == "mjr" ? ["1001.webm", "1002.webm"] : ["user-1001.webm", "user-1002.webm"]
        #expect(files == names)
        for (i, name) in names.enumerated() { try checkParticipant(out + "/" + name, index: i, seconds: 6) }
    }

    @Test(.enabled(if: toolsPresent))
    func vp9Room() throws {
        let (out, _) = try roomToTracks(format: "pcap", extra: ["--codec", "vp9"])
        try checkParticipant(out + "/user-1001.webm", index: 0, seconds: 6, videoCodec: "vp9")
    }

    @Test(.enabled(if: toolsPresent))
    func lateJoinAndEarlyLeave() throws {
        let (out, _) = try roomToTracks(format: "mjr", extra: ["--join", "1@2s", "--leave", "0@4s"], participants: 2)
        try checkParticipant(out + "/1001.webm", index: 0, seconds: 4)
        try checkParticipant(out + "/1002.webm", index: 1, seconds: 4)
    }

    @Test(.enabled(if: toolsPresent))
    func resolutionChangeStaysPlayable() throws {
        let (out, _) = try roomToTracks(format: "mjr", extra: ["--resolution-change-at", "3s"], participants: 1)
        let path = out + "/1001.webm"
        #expect(try Decode.errors(path).isEmpty)
        let sizes = try Tool.run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=width,height",
                                             "-of", "csv=p=0", path]).stdout.split(separator: "\n").map(String.init)
        #expect(sizes.count == 180)
        #expect(sizes.first == "640,360" && sizes.last == "320,180", "sizes \(sizes.first ?? "") → \(sizes.last ?? "")")
        #expect(sizes.firstIndex(of: "320,180") == 90)
        let late = try Decode.picture(path, at: 5, width: 320, height: 180)
        let p = SynthParticipant(index: 0)
        #expect(abs(late.averageColor(in: PixelRect(x: 0, y: 0, width: 320, height: 40)).y - Double(p.y)) < 12)
    }

    @Test(.enabled(if: toolsPresent))
    func lossReorderDuplicationJitterStillComplete() throws {
        let (out, _) = try roomToTracks(format: "pcap", extra: ["--loss", "0.03", "--reorder", "0.05", "--duplicate", "0.02",
                                                                "--jitter", "20ms", "--keyframe-interval", "30"],
                                        seconds: 8)
        for (i, name) in ["user-1001.webm", "user-1002.webm"].enumerated() {
            let path = out + "/" + name
            #expect(try Decode.errors(path).isEmpty, "\(path) decodes cleanly")
            let probe = try Probe(path)
            #expect(abs(probe.duration - 8) < 0.25, "\(path): duration \(probe.duration)")
            // 3% loss: audio loses about 3% of frames; video waits for the next keyframe after each loss.
            #expect((probe.audio?.frames ?? 0) >= 370 && (probe.audio?.frames ?? 0) <= 400)
            #expect((probe.video?.frames ?? 0) >= 60 && (probe.video?.frames ?? 0) < 240)
            let samples = try Decode.audio(path)
            let candidates = (0..<8).map { SynthParticipant(index: $0).toneHz }
            #expect(dominantFrequency(samples, sampleRate: 48_000, candidates: candidates) == SynthParticipant(index: i).toneHz)
        }
    }

    @Test(.enabled(if: toolsPresent))
    func inspectCountsImpairments() throws {
        let dir = try Tool.temporaryFolder()
        let input = dir + "/room.pcap"
        let synth = try Tool.flowrec("synth", "--participants", "1", "--seconds", "10s", "--format", "pcap", "--out", input,
                                     "--loss", "0.05", "--duplicate", "0.03", "--reorder", "0.05", "--seed", "7")
        try #require(synth.status == 0)
        let inspect = try Tool.flowrec("inspect", input, "--json")
        try #require(inspect.status == 0, "\(inspect.stderr)")
        let json = try JSONSerialization.jsonObject(with: inspect.output) as! [String: Any]
        let streams = json["streams"] as! [[String: Any]]
        #expect(streams.count == 2)
        let audio = try #require(streams.first { $0["codec"] as? String == "opus" })
        // 500 audio packets sent; about 5% lost, 3% duplicated.
        let lost = audio["lost"] as! Int
        let dups = audio["duplicates"] as! Int
        #expect((10...45).contains(lost), "lost \(lost)")
        #expect((5...30).contains(dups), "duplicates \(dups)")
        #expect((audio["reordered"] as! Int) > 0)
        let video = try #require(streams.first { $0["codec"] as? String == "vp8" })
        #expect(video["resolutions"] as? [String] == ["640x360"])
        #expect((video["keyframes"] as! Int) >= 2)
        #expect(audio["codecSource"] as? String == "sniffed")
    }
}
