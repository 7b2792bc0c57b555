import Foundation
import Media
import Soak
import Synth
import Testing

/// Issue 12, item 2: a keyframe header may declare a picture of 16383×16383 (VP8) or more, and a
/// decoder sizes its buffers by it — 2.5 GB and 150 s for a 6 s VP8 room before the bound. Every
/// video stream is held to `--max-picture` (default 4096x2304) before any decoder or file sees it:
/// the stream's video is dropped from that frame on, with a warning naming the participant, the
/// stream and the size, and the participant's audio stays. Runs are bounded by a timeout and their
/// peak RSS is measured (`/usr/bin/time`).
@Suite(.serialized) struct PictureSizeTests {
    static let tones = (0..<8).map { SynthParticipant(index: $0).toneHz }

    /// Peak RSS a run may reach: a normal 6 s two-person transcode peaks at about 100 MB.
    static let rssBoundKiB = 200_000

    /// Participant 0 declares a huge picture from its first keyframe on, participant 1 from 3 s
    /// (after three seconds of good video): offline, composite and per-participant files at once.
    @Test(arguments: [("vp8", "16383x16383"), ("vp9", "16384x16384"), ("h264", "16000x16000")])
    func hugePicturesAreDroppedBeforeAnyDecoder(codec: String, declared: String) throws {
        let dir = try Tool.temporaryFolder("huge-\(codec)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let codecArgs = codec == "h264" ? ["--h264", "0", "--h264", "1"] : ["--codec", codec]
        let synth = try Tool.flowrec(arguments: ["synth", "--participants", "2", "--seconds", "6s", "--format", "mjr", "--out", dir + "/in",
                                                 "--size", "320x180", "--keyframe-interval", "30",
                                                 "--declare-size", "0@0s=\(declared)", "--declare-size", "1@3s=\(declared)"] + codecArgs)
        try #require(synth.status == 0, "synth: \(synth.stderr)")

        let run = try measured(["transcode", dir + "/in", "--pipeline", "grid-720p", "--tracks", "--out", dir + "/out/room.webm"], in: dir)
        try #require(run.status == 0, "transcode exited \(run.status) (124: timed out): \(run.stderr.suffix(2000))")
        #expect(run.peakKiB < Self.rssBoundKiB, "peak RSS \(run.peakKiB) KiB")
        print("picture bound, \(codec) \(declared): transcode peak RSS \(run.peakKiB / 1024) MB")

        // One warning each, naming participant, stream, the size declared (an H.264 SPS in whole
        // macroblocks, less x264's cropping) and when.
        let warnings = LogLines.messages(run.stderr, level: "warning").filter { $0.contains("not recorded") }
        let size = try #require(PictureSize(parsing: declared))
        let heightStated = codec == "h264" ? "\(size.width)x" : declared
        #expect(warnings.count == 2, "\(warnings)")
        #expect(warnings.contains { $0.hasPrefix("1001: video stream") && $0.contains("at 0.00 s") && $0.contains(heightStated) && $0.contains("4096x2304") },
                "\(warnings)")
        #expect(warnings.contains { $0.hasPrefix("1002: video stream") && $0.contains("at 3.00 s") && $0.contains(heightStated) }, "\(warnings)")

        // The composite: the whole room, both tones.
        let composite = try Probe(dir + "/out/room.webm")
        #expect(abs(composite.duration - 6) < 0.2 && composite.video?.width == 1280, "composite \(composite.duration) s")
        let mix = try Decode.audio(dir + "/out/room.webm", start: 1, seconds: 4)
        for participant in 0..<2 {
            #expect(goertzelPower(mix, frequency: Self.tones[participant], sampleRate: 48_000)
                    > 100 * goertzelPower(mix, frequency: Self.tones[5], sampleRate: 48_000), "participant \(participant)'s tone in the mix")
        }

        // Each participant's file keeps its audio for the whole room; its video only up to the huge keyframe,
        // never declaring the huge size (H.264 has no video in WebM anyway).
        for (participant, name) in ["1001", "1002"].enumerated() {
            let path = dir + "/out/room.\(name).webm"
            let probe = try Probe(path)
            let audioSeconds = Double(try Decode.audio(path).count) / 48_000
            #expect(probe.audio != nil && abs(audioSeconds - 6) < 0.2, "\(name): audio \(audioSeconds) s")
            #expect(dominantFrequency(try Decode.audio(path, start: 1, seconds: 4), sampleRate: 48_000, candidates: Self.tones)
                    == Self.tones[participant], "\(name): its tone")
            if codec == "h264" || participant == 0 {
                #expect(probe.video == nil, "\(name): a video track \(String(describing: probe.video))")
            } else {
                let video = try #require(probe.video)
                #expect(video.width == 320 && video.height == 180, "\(name): \(video.width ?? 0)x\(video.height ?? 0)")
                #expect((85...90).contains(video.frames ?? 0), "\(name): \(video.frames ?? 0) video frames, the 90 before 3 s expected")
            }
            #expect(try Decode.errors(path).isEmpty, "\(name) decodes cleanly")
        }
    }

    /// `--max-picture` takes either way up, drops a stream just over it, and refuses nonsense (exit 64).
    @Test func theBoundIsConfigurable() throws {
        let dir = try Tool.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let synth = try Tool.flowrec("synth", "--participants", "1", "--seconds", "3s", "--format", "pcap", "--out", dir + "/room.pcap",
                                     "--size", "320x180")
        try #require(synth.status == 0, "synth: \(synth.stderr)")

        // Portrait 180x320 admits a 320x180 picture.
        let portrait = try Tool.flowrec("transcode", dir + "/room.pcap", "--tracks", "--max-picture", "180x320", "--out", dir + "/portrait")
        #expect(portrait.status == 0, "\(portrait.stderr)")
        #expect(try Probe(dir + "/portrait/user-1001.webm").video?.width == 320)
        #expect(!portrait.stderr.contains("max-picture"))

        // 320x178 does not: the video goes, the audio stays.
        let small = try Tool.flowrec("transcode", dir + "/room.pcap", "--tracks", "--max-picture", "320x178", "--out", dir + "/small")
        #expect(small.status == 0, "\(small.stderr)")
        let probe = try Probe(dir + "/small/user-1001.webm")
        let smallAudio = Double(try Decode.audio(dir + "/small/user-1001.webm").count) / 48_000
        #expect(probe.video == nil && abs(smallAudio - 3) < 0.2, "video \(String(describing: probe.video)), audio \(smallAudio) s")
        #expect(LogLines.messages(small.stderr, level: "warning").contains { $0.contains("320x180") && $0.contains("--max-picture 320x178") },
                "\(small.stderr)")

        for bad in ["0x0", "4096", "wide", "20000x100", "15x15", "4096x2304x2", "-4x5"] {
            for command in [["transcode", dir + "/room.pcap", "--out", dir + "/bad.webm"], ["record", "--whip", "0", "--room", "r", "--out", dir + "/rec"],
                            ["recover", dir]] {
                let result = try Tool.flowrec(arguments: command + ["--max-picture", bad])
                #expect(result.status == 64, "\(command[0]) --max-picture \(bad): exit \(result.status)")
            }
        }
    }

    /// The live path (`flowrec soak`: a loopback publisher → ICE/DTLS/SRTP → captures and the outputs
    /// made while recording, as in `record`), in its own process: a legit VP8 stream whose keyframes
    /// declare 16383×16383 from 12 s on. Memory stays flat, what came before is kept, the audio goes on,
    /// and the outputs' report (what the manifest holds) says the video was not recorded and why.
    @Test func theLivePathDropsAHugeKeyframeMidStream() throws {
        let dir = try Tool.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try measured(["soak", "--out", dir + "/soak", "--duration", "30s", "--publishers", "1", "--rejoin-every", "never",
                                "--sample-every", "10s", "--declare-size", "12s=16383x16383"], in: dir, timeout: 120)
        try #require(run.status == 0, "soak exited \(run.status) (124: timed out): \(run.stderr.suffix(2000))")
        let report = try JSONDecoder().decode(SoakReport.self, from: run.output)
        print("picture bound, live: soak peak RSS \(report.peakRSSKiB / 1024) MB (process \(run.peakKiB / 1024) MB)")
        #expect(report.peakRSSKiB > 0 && report.peakRSSKiB < Self.rssBoundKiB, "peak RSS \(report.peakRSSKiB) KiB")
        #expect(report.outputsFailure == nil)

        #expect(report.warnings.contains { $0.hasPrefix("p1: video stream") && $0.contains("at 12.00 s declared a 16383x16383 picture") },
                "\(report.warnings)")
        let p1 = try #require(report.outputs.first { $0.name == "p1" })
        let rejected = try #require(p1.video?.rejected?.first, "no rejection in \(String(describing: p1.video))")
        #expect(rejected.width == 16383 && rejected.height == 16383 && rejected.limit == "4096x2304" && abs(rejected.fromSeconds - 12) < 0.1)
        #expect(rejected.reason.contains("--max-picture"))

        let probe = try Probe(p1.path)
        let audioSeconds = Double(try Decode.audio(p1.path).count) / 48_000
        #expect(probe.audio != nil && abs(audioSeconds - 30) < 1, "p1 audio \(audioSeconds) s")
        let video = try #require(probe.video)
        #expect(video.width == 320 && (170...180).contains(video.frames ?? 0), "p1 video: \(video.frames ?? 0) frames, 180 (12 s at 15 fps) expected")
        let composite = try #require(report.outputs.first { $0.name == "composite" })
        #expect(abs(try Probe(composite.path).duration - 30) < 1)
        for output in report.outputs { #expect(try Decode.errors(output.path).isEmpty, "\(output.name) decodes cleanly") }
    }

    /// Runs flowrec under `timeout` and `/usr/bin/time`: its status (124 when it timed out), output and peak RSS (KiB).
    private func measured(_ arguments: [String], in dir: String, timeout: Int = 60) throws
        -> (status: Int32, stderr: String, output: Data, peakKiB: Int) {
        let rss = dir + "/rss.txt"
        let result = try Tool.run("/usr/bin/time", ["-f", "%M", "-o", rss, "timeout", "\(timeout)", Tool.flowrec] + arguments)
        let text = (try? String(contentsOfFile: rss, encoding: .utf8)) ?? ""
        let peak = text.split(separator: "\n").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.last ?? 0
        let status = result.status != 0 && text.contains("exited with non-zero status 124") ? 124 : result.status
        return (status, result.stderr, result.output, peak)
    }
}
