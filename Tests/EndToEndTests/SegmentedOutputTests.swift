import Foundation
import Media
import Synth
import Testing

/// `--segment`: a 35 s synth room cut every 10 s, composite and per participant, against the same
/// room unsegmented — each file starts at 0 with a keyframe, the files add up to the single file
/// frame for frame and sample for sample, and tone and picture run on across the cuts; `recover`
/// keeps a recording's segment length; `--batch` skips groups whose segments are all there.
@Suite(.serialized) struct SegmentedOutputTests {
    static let toolsPresent = Tool.exists("ffprobe") && Tool.exists("ffmpeg")
    static let frame = 1.0 / 30

    /// One file as `transcode` reported it and ffprobe sees it.
    struct Segment {
        var path: String
        var start: Double
        var duration: Double
        var probe: Probe
        var firstVideoPacket: String
    }

    /// The first video packet's `pts_time,flags`, as ffprobe lists it.
    private func firstVideoPacket(_ path: String) throws -> String {
        try Tool.run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags",
                                 "-read_intervals", "%+#1", "-of", "csv=p=0", path]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The files `transcode` printed for `who` (`composite` or `participant=NAME`), in order.
    private func segments(_ stdout: String, _ who: String) throws -> [Segment] {
        try stdout.split(separator: "\n").filter { $0.hasPrefix("wrote ") && $0.contains("  \(who) ") }.map { line in
            let words = line.split(separator: " ")
            func value(_ key: String) -> Double { Double(words.first { $0.hasPrefix(key + "=") }?.dropFirst(key.count + 1).dropLast() ?? "") ?? -1 }
            let path = String(words[1])
            return Segment(path: path, start: value("start"), duration: value("duration"), probe: try Probe(path),
                           firstVideoPacket: try firstVideoPacket(path))
        }
    }

    /// Audio packets ffprobe counts (the video count comes with `Probe`).
    private func audioPackets(_ path: String) throws -> Int {
        Int(try Tool.run("ffprobe", ["-v", "error", "-count_packets", "-select_streams", "a:0", "-show_entries", "stream=nb_read_packets",
                                     "-of", "csv=p=0", path]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    @Test(.enabled(if: toolsPresent))
    func compositeAndTracksCutEveryTenSecondsAddUpToTheSingleFiles() throws {
        let dir = try Tool.temporaryFolder()
        let input = dir + "/room.pcap"
        let synth = try Tool.flowrec("synth", "--participants", "2", "--seconds", "35s", "--format", "pcap", "--out", input,
                                     "--keyframe-interval", "90")
        try #require(synth.status == 0, "synth: \(synth.stderr)")
        // A small canvas keeps the composite quick; keyframes no more than every 1000 frames, so only a
        // forced one starts a segment; everything else is grid-720p's.
        let preset = dir + "/small.yaml"
        try "base: grid-720p\ncomposite:\n  video:\n    width: 320\n    height: 180\n    keyframe_interval: 1000\n"
            .write(toFile: preset, atomically: true, encoding: .utf8)
        let whole = try Tool.flowrec("transcode", input, "--pipeline", preset, "--tracks", "--out", dir + "/one/room.webm")
        try #require(whole.status == 0, "transcode: \(whole.stderr)")
        let cut = try Tool.flowrec("transcode", input, "--pipeline", preset, "--tracks", "--segment", "10s", "--out", dir + "/cut/room.webm")
        try #require(cut.status == 0, "transcode --segment: \(cut.stderr)")

        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/cut").sorted()
        #expect(files == (0..<4).map { "room-00\($0).webm" } + ["user-1001", "user-1002"].flatMap { p in (0..<4).map { "room.\(p)-00\($0).webm" } },
                "\(files)")

        // Composite: [0,10) [10,20) [20,30) [30,35), each from 0 with a keyframe.
        let single = try Probe(dir + "/one/room.webm")
        let composite = try segments(cut.stdout, "composite")
        #expect(composite.map(\.start) == [0, 10, 20, 30])
        for (k, segment) in composite.enumerated() {
            let expected = k < 3 ? 10.0 : 5.0
            #expect(abs(segment.probe.duration - expected) <= Self.frame, "\(segment.path): \(segment.probe.duration) s")
            #expect(segment.probe.video?.frames == Int(expected * 30), "\(segment.path): \(segment.probe.video?.frames ?? 0) frames")
            #expect(segment.firstVideoPacket.hasPrefix("0.000000,K"), "\(segment.path) starts with \(segment.firstVideoPacket)")
            #expect(try Decode.errors(segment.path).isEmpty, "\(segment.path) decodes cleanly")
        }
        #expect(composite.map { $0.probe.video?.frames ?? 0 }.reduce(0, +) == single.video?.frames)
        #expect(abs(composite.map(\.probe.duration).reduce(0, +) - single.duration) <= 0.02,
                "\(composite.map(\.probe.duration)) against \(single.duration)")
        // Audio: sample for sample (each file's last packet is trimmed to its end, the next starts where it ends).
        let wholeAudio = try Decode.audio(dir + "/one/room.webm")
        let parts = try composite.map { try Decode.audio($0.path) }
        #expect(parts.map(\.count).reduce(0, +) == wholeAudio.count, "\(parts.map(\.count)) against \(wholeAudio.count)")
        #expect(parts.prefix(3).allSatisfy { $0.count == 480_000 })
        // ...and the mix runs on across the cut: around 10 s the joined files sound as the single file does.
        let joined = parts[0] + parts[1]
        let around = (480_000 - 480)..<(480_000 + 960)
        let signal = around.reduce(0.0) { $0 + pow(Double(wholeAudio[$1]), 2) }
        let error = around.reduce(0.0) { $0 + pow(Double(wholeAudio[$1]) - Double(joined[$1]), 2) }
        #expect(10 * log10(signal / max(error, 1)) > 15, "SNR across the cut \(10 * log10(signal / max(error, 1))) dB")
        let tones = (0..<2).map { SynthParticipant(index: $0).toneHz }
        for tone in tones {
            #expect(goertzelPower(Array(parts[1].prefix(2_400)), frequency: tone, sampleRate: 48_000) > 1e-4, "\(tone) Hz in the first 50 ms")
        }
        // Picture: the first frame after the cut shows what the single file shows at 10 s.
        let after = try Decode.picture(composite[1].path, at: 0, width: 320, height: 180)
        let reference = try Decode.picture(dir + "/one/room.webm", at: 10, width: 320, height: 180)
        let difference = zip(after.y, reference.y).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) } / after.y.count
        #expect(difference < 3, "mean luma difference \(difference) at the cut")

        // Per participant: cut at the first keyframe (every 3 s) at or after each boundary; every frame once.
        for user in ["user-1001", "user-1002"] {
            let path = dir + "/one/room.\(user).webm"
            let one = try Probe(path)
            let pieces = try segments(cut.stdout, "participant=\(user)")
            #expect(pieces.count == 4)
            for (k, piece) in pieces.enumerated() {
                #expect(piece.start >= Double(k * 10) && piece.start < Double(k * 10) + 3.05, "\(piece.path) starts at \(piece.start)")
                // The file starts with that keyframe (at 0, or 1 ms in when the cut time rounds below its millisecond).
            // The first file is not a cut: it starts with the participant's first media, which may be an
            // audio packet a few milliseconds before the first keyframe (3 ms seen on a loaded machine).
            let first = piece.firstVideoPacket.split(separator: ",")
            let lead = k == 0 ? 0.05 : 0.001
            #expect(first.count == 2 && (Double(first[0]) ?? 1) <= lead && first[1].hasPrefix("K"),
                    "\(piece.path) starts with \(piece.firstVideoPacket)")
                #expect(try Decode.errors(piece.path).isEmpty, "\(piece.path) decodes cleanly")
            }
            #expect(pieces.map { $0.probe.video?.frames ?? 0 }.reduce(0, +) == one.video?.frames, "\(user): video frames")
            #expect(try pieces.map { try audioPackets($0.path) }.reduce(0, +) == (try audioPackets(path)), "\(user): audio packets")
            #expect(try pieces.map { try Decode.audio($0.path).count }.reduce(0, +) == (try Decode.audio(path).count), "\(user): samples")
            #expect(abs(pieces.map(\.duration).reduce(0, +) - one.duration) < 0.05, "\(user): \(pieces.map(\.duration))")
        }
    }

    @Test func lengthsBelowTenSecondsOrNotWholeAreUsageErrors() throws {
        for (command, value) in [("transcode", "5s"), ("transcode", "12.5s"), ("transcode", "soon"), ("record", "9s")] {
            var arguments = [command]
            arguments += command == "record" ? ["--whip", "0", "--room", "r", "--out", "/nonexistent"] : ["x.pcap", "--out", "/nonexistent/x.webm"]
            let result = try Tool.flowrec(arguments: arguments + ["--segment", value])
            #expect(result.status == 64 && result.stderr.contains("--segment"), "\(command) --segment \(value): \(result.status) \(result.stderr)")
        }
    }

    @Test(.enabled(if: toolsPresent))
    func recoverCutsAsTheRecordingWasStarted() throws {
        // A recording killed mid-way: its capture and the first manifest (state recording, --segment 10s).
        let dir = try Tool.temporaryFolder()
        try FileManager.default.createDirectory(atPath: dir + "/demo.capture", withIntermediateDirectories: true)
        let synth = try Tool.flowrec("synth", "--participants", "1", "--seconds", "25s", "--format", "pcap", "--out", dir + "/demo.capture/alice.pcap")
        try #require(synth.status == 0, "synth: \(synth.stderr)")
        let manifest = """
            {"room": "demo", "source": "whip", "state": "recording", "pipeline": "audio-only", "tracks": true, "segmentSeconds": 10,
             "startedAt": "2026-11-30T09:00:00.000Z", "participants": [], "connections": [], "outputs": [],
             "captureFolder": "\(dir)/demo.capture", "warnings": []}
            """
        try manifest.write(toFile: dir + "/demo.json", atomically: true, encoding: .utf8)
        let recovered = try Tool.flowrec("recover", dir)
        try #require(recovered.status == 0, "recover: \(recovered.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".webm") }.sorted()
        #expect(files == ["demo-000.webm", "demo-001.webm", "demo-002.webm", "demo.alice-000.webm", "demo.alice-001.webm", "demo.alice-002.webm"])
        let after = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/demo.json"))) as? [String: Any])
        #expect(after["state"] as? String == "recovered" && after["segmentSeconds"] as? Int == 10, "\(after)")
        let outputs = after["outputs"] as? [[String: Any]] ?? []
        #expect(outputs.filter { $0["name"] as? String == "composite" }.compactMap { $0["startSeconds"] as? Double } == [0, 10, 20])
        #expect(try Probe(dir + "/demo-002.webm").duration > 4.5)
    }

    @Test(.enabled(if: LiveNetwork.available), .timeLimit(.minutes(3)))
    func aLiveRecordingIsCutAsItGoesWithKeyframesAskedForAtEachBoundary() throws {
        // One aiortc publisher for 25 s (it sends keyframes only when asked) to `record --whip --segment 10s --tracks`
        // (the composite audio only: the machine's cores go to the publisher and the cut).
        let dir = try Tool.temporaryFolder()
        let script = """
            \(LiveNetwork.setUp)
            '\(Tool.flowrec)' record --whip 10.99.0.1:8080 --room seg --out '\(dir)/out' --name room --tracks --segment 10s --pipeline audio-only \
              --ice-host 10.99.0.1 --duration 60s --stop-when-empty 8s > '\(dir)/record.out' 2> '\(dir)/record.err' &
            rec=$!
            for i in $(seq 300); do (exec 3<>/dev/tcp/10.99.0.1/8080) 2>/dev/null && break; sleep 0.1; done
            timeout 40 '\(LiveNetwork.python)' '\(LiveNetwork.tools)/whip_publish.py' http://10.99.0.1:8080/whip/seg --seconds 25 \
              --tone 440 --colour 255,0,0 > '\(dir)/publisher.json' 2> '\(dir)/publisher.err' &
            pub=$!
            for i in $(seq 150); do [ -s '\(dir)/out/room.capture/p1.pcap' ] && break; sleep 0.1; done
            sleep 15; ls '\(dir)/out' > '\(dir)/during.txt'
            wait $pub; wait $rec; echo "recorder=$?"
            """
        try script.write(toFile: dir + "/run.sh", atomically: true, encoding: .utf8)
        let result = try LiveNetwork.run(dir + "/run.sh")
        let stdout = (try? String(contentsOfFile: dir + "/record.out", encoding: .utf8)) ?? ""
        let log = (try? String(contentsOfFile: dir + "/record.err", encoding: .utf8)) ?? ""
        try #require(result.stdout.contains("recorder=0"), "\(result.stdout)\n\(log)")
        // While it ran, the first composite segment was already final and the next one open.
        let during = ((try? String(contentsOfFile: dir + "/during.txt", encoding: .utf8)) ?? "").split(separator: "\n")
        #expect(during.contains("room-000.webm") && during.contains("room-001.webm.partial"), "\(during)")

        let composite = try segments(stdout, "composite")
        #expect(composite.map(\.start) == [0, 10, 20], "\(stdout)")
        let p1 = try segments(stdout, "participant=p1")
        #expect(p1.count == 3, "\(stdout)")
        for (k, piece) in p1.enumerated() {
            // Asked for at the boundary, the keyframe that starts the file comes within a round trip or two.
            #expect(piece.start >= Double(k * 10) && piece.start < Double(k * 10) + 1.5, "\(piece.path) starts at \(piece.start)")
            // The file starts with that keyframe (at 0, or 1 ms in when the cut time rounds below its millisecond).
            // The first file is not a cut: it starts with the participant's first media, which may be an
            // audio packet a few milliseconds before the first keyframe (3 ms seen on a loaded machine).
            let first = piece.firstVideoPacket.split(separator: ",")
            let lead = k == 0 ? 0.05 : 0.001
            #expect(first.count == 2 && (Double(first[0]) ?? 1) <= lead && first[1].hasPrefix("K"),
                    "\(piece.path) starts with \(piece.firstVideoPacket)")
            #expect(try Decode.errors(piece.path).isEmpty, "\(piece.path) decodes cleanly")
        }
        for piece in composite + p1 { #expect(tonePower(try Decode.audio(piece.path), 440, from: 0.5, to: 3) > 1e-4, "\(piece.path): the tone") }
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/room.json"))) as? [String: Any])
        #expect(manifest["segmentSeconds"] as? Int == 10 && manifest["state"] as? String == "complete", "\(manifest)")
    }

    @Test(.enabled(if: toolsPresent))
    func batchSkipsAGroupWhoseSegmentsAreAllThere() throws {
        let dir = try Tool.temporaryFolder()
        let synth = try Tool.flowrec("synth", "--participants", "1", "--seconds", "12s", "--format", "mjr", "--out", dir + "/in",
                                     "--keyframe-interval", "30")
        try #require(synth.status == 0, "synth: \(synth.stderr)")
        let first = try Tool.flowrec("transcode", "--batch", dir + "/in", "--out", dir + "/out", "--tracks", "--segment", "10s")
        #expect(first.status == 0 && first.stdout.contains("1234-20260101T000000Z: done"), "\(first.stdout) \(first.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/out").sorted()
            == ["1234-20260101T000000Z.1001-000.webm", "1234-20260101T000000Z.1001-001.webm"])
        let second = try Tool.flowrec("transcode", "--batch", dir + "/in", "--out", dir + "/out", "--tracks", "--segment", "10s")
        #expect(second.stdout.contains("1234-20260101T000000Z: skipped"), "\(second.stdout) \(second.stderr)")
    }
}
