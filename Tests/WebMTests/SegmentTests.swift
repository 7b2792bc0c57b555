import Foundation
import Media
import Testing
@testable import WebM

/// `--segment`: where boundaries fall, where passthrough frames are cut, and the files the
/// segmented writer leaves.
@Suite("Segments")
struct SegmentTests {
    // MARK: Clock

    @Test func boundariesFallOnRoomTimeAndAFileOffsetMapsOntoThem() {
        let room = SegmentClock(seconds: 10)
        #expect(room.index(atMillis: 0) == 0 && room.index(atMillis: 9_999) == 0 && room.index(atMillis: 10_000) == 1)
        #expect(room.startMillis(of: 3) == 30_000)
        // A participant whose file starts at room time 25 s: its file time 5 s is the boundary of segment 3.
        let late = SegmentClock(seconds: 10, offsetMillis: 25_000)
        #expect(late.index(atMillis: 0) == 2 && late.index(atMillis: 4_999) == 2 && late.index(atMillis: 5_000) == 3)
        #expect(late.startMillis(of: 3) == 5_000 && late.startMillis(of: 2) == -5_000)
    }

    @Test func lengthsAreWholeSecondsOfAtLeastTen() {
        #expect(SegmentClock.problem(seconds: 10) == nil && SegmentClock.problem(seconds: 900) == nil)
        #expect(SegmentClock.problem(seconds: 9)?.contains("at least 10s") == true)
        #expect(SegmentClock.problem(seconds: 12.5)?.contains("whole number") == true)
        #expect(SegmentClock.problem(seconds: .infinity) != nil && SegmentClock.problem(seconds: .nan) != nil)
    }

    @Test func aligned() {
        // Every 20 ms audio block and every frame of an integer rate starts on a boundary or inside one
        // segment: the first of each at or after a boundary starts exactly on it.
        let clock = SegmentClock(seconds: 10)
        for fps in [24, 25, 30, 60] {
            let first = (0..<2_000).map { Int64($0) * 1_000_000 / Int64(fps) }.first { clock.index(atMillis: $0 / 1000) == 1 }
            #expect(first == 10_000_000, "\(fps) fps")
        }
        let block = (0..<1_000).map { Int64($0) * 960 * 1000 / 48_000 }.first { clock.index(atMillis: $0) == 1 }
        #expect(block == 10_000)
    }

    @Test func segmentNames() {
        #expect(SegmentedWebMWriter.segmentPath("out/room.webm", index: 0) == "out/room-000.webm")
        #expect(SegmentedWebMWriter.segmentPath("out/room.alice.webm", index: 42) == "out/room.alice-042.webm")
        #expect(SegmentedWebMWriter.segmentPath("room.WEBM", index: 1234) == "room-1234.WEBM")
        #expect(SegmentedWebMWriter.segmentPath("room", index: 7) == "room-007")
    }

    // MARK: Cutter

    /// Runs frames (name, time, kind) through a cutter; returns its steps as text: `cut 1@12000`, `a10500`.
    private func cuts(_ frames: [(String, Int64, Character)], hasVideo: Bool, offset: Int64 = 0) -> [String] {
        var cutter = SegmentCutter<String>(clock: SegmentClock(seconds: 10, offsetMillis: offset), hasVideo: hasVideo)
        var out: [String] = []
        func record(_ steps: [SegmentCutter<String>.Step]) {
            for step in steps {
                switch step {
                case let .cut(index, at): out.append("cut \(index)@\(at)")
                case let .write(name): out.append(name)
                }
            }
        }
        for (name, time, kind) in frames { record(cutter.add(name, atMillis: time, isVideo: kind != "a", isKeyframe: kind == "K")) }
        record(cutter.drain())
        return out
    }

    @Test func audioOnlyCutsAtTheFirstFrameOnOrAfterTheBoundary() {
        #expect(cuts([("a1", 9_980, "a"), ("a2", 10_000, "a"), ("a3", 10_020, "a"), ("a4", 20_007, "a")], hasVideo: false)
            == ["a1", "cut 1@10000", "a2", "a3", "cut 2@20007", "a4"])
    }

    @Test func videoCutsAtTheFirstKeyframeAfterTheBoundaryAndAudioWaitsForIt() {
        // A keyframe at 9 s is before the boundary; the next comes at 12 s. Audio past 10 s waits,
        // delta frames release the audio before them (a later keyframe cannot come before them).
        let frames: [(String, Int64, Character)] = [
            ("k0", 9_000, "K"), ("a0", 9_990, "a"), ("a1", 10_010, "a"), ("v1", 10_033, "v"), ("a2", 11_990, "a"),
            ("a3", 12_010, "a"), ("k2", 12_000, "K"), ("a4", 12_030, "a"), ("v3", 12_033, "v"),
        ]
        #expect(cuts(frames, hasVideo: true) == ["k0", "a0", "v1", "a1", "cut 1@12000", "k2", "a2", "a3", "a4", "v3"])
    }

    @Test func aCutWaitingForAKeyframeSaysSo() {
        var cutter = SegmentCutter<Int>(clock: SegmentClock(seconds: 10), hasVideo: true)
        _ = cutter.add(0, atMillis: 9_990, isVideo: false, isKeyframe: false)
        #expect(!cutter.awaitsKeyframe)
        _ = cutter.add(1, atMillis: 10_010, isVideo: false, isKeyframe: false)
        #expect(cutter.awaitsKeyframe && cutter.heldCount == 1)
        _ = cutter.add(2, atMillis: 10_033, isVideo: true, isKeyframe: false)
        #expect(cutter.awaitsKeyframe && cutter.heldCount == 0)
        _ = cutter.add(3, atMillis: 10_066, isVideo: true, isKeyframe: true)
        #expect(!cutter.awaitsKeyframe && cutter.index == 1)
        var audioOnly = SegmentCutter<Int>(clock: SegmentClock(seconds: 10), hasVideo: false)
        _ = audioOnly.add(0, atMillis: 10_010, isVideo: false, isKeyframe: false)
        #expect(!audioOnly.awaitsKeyframe && audioOnly.index == 1)
    }

    @Test func everyFrameComesOutOnceInArrivalOrderPerKind() {
        // 35 s of 30 fps video (keyframe every 3 s) and 20 ms audio, audio arriving 50 ms ahead of video.
        var frames: [(String, Int64, Character)] = []
        for i in 0..<1_050 { frames.append(("v\(i)", Int64(i) * 1000 / 30, i % 90 == 0 ? "K" : "v")) }
        for i in 0..<1_750 { frames.append(("a\(i)", Int64(i) * 20, "a")) }
        frames.sort { ($0.1 - ($0.2 == "a" ? 50 : 0)) < ($1.1 - ($1.2 == "a" ? 50 : 0)) }
        let steps = cuts(frames, hasVideo: true)
        #expect(steps.filter { $0.hasPrefix("cut") } == ["cut 1@12000", "cut 2@21000", "cut 3@30000"])
        let written = steps.filter { !$0.hasPrefix("cut") }
        #expect(written.count == frames.count && Set(written).count == frames.count)
        #expect(written.filter { $0.hasPrefix("a") } == (0..<1_750).map { "a\($0)" })
        #expect(written.filter { $0.hasPrefix("v") } == (0..<1_050).map { "v\($0)" })
    }

    @Test func stoppedVideoCutsAtTheAudioAfterTheHold() {
        var frames: [(String, Int64, Character)] = [("k0", 0, "K"), ("v1", 5_000, "v")]
        for t in stride(from: Int64(9_960), through: 12_500, by: 20) { frames.append(("a\(t)", t, "a")) }
        let steps = cuts(frames, hasVideo: true)
        // Nothing released the audio from 10 s on: after the hold (2 s) it is cut there, like audio alone.
        #expect(steps.firstIndex(of: "cut 1@10000") == steps.firstIndex(of: "a9980")! + 1)
        #expect(steps.filter { !$0.hasPrefix("cut") } == frames.map(\.0))
    }

    @Test func aLateJoinerCutsOnTheRoomsBoundaries() {
        // The file starts at room time 25 s: its first boundary is at its 5 s (room 30 s), segment 3.
        #expect(cuts([("a0", 0, "a"), ("a1", 4_990, "a"), ("a2", 5_010, "a")], hasVideo: false, offset: 25_000)
            == ["a0", "a1", "cut 3@5010", "a2"])
    }

    // MARK: Writer

    @Test func unsegmentedWritesThePathItself() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let writer = try SegmentedWebMWriter(path: dir + "/one.webm", tracks: [.audio(codec: .opus, sampleRate: 48_000, channels: 1, preSkip: 312)],
                                             segment: nil, overwrite: false)
        let packet = try OpusEncoder().encode(sineWave(frequency: 440, sampleRate: 48_000, count: 960))
        try writer.write(track: 0, data: packet, ptsMillis: 0, isKeyframe: true, durationMillis: 20)
        #expect(writer.currentIndex == nil)
        #expect(throws: WebMError.self) { try writer.startSegment(index: 1, atMillis: 10) }
        let files = try writer.finish()
        #expect(files == [WebMSegment(index: nil, path: dir + "/one.webm", startMillis: 0, frames: 1, endMillis: 20)])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["one.webm"])
    }

    @Test(.enabled(if: haveFFTools, "ffprobe/ffmpeg not installed: cannot check the files by decoding them"))
    func segmentsRestartAtZeroStartWithAKeyframeAndAddUpToTheWhole() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/room.webm"
        var opus = try OpusEncoder()
        let video = try VPXEncoder(.init(codec: .vp8, width: 160, height: 120, fps: 30, bitrateKbps: 300))
        let writer = try SegmentedWebMWriter(path: path, tracks: [
            .video(codec: .vp8, width: 160, height: 120),
            .audio(codec: .opus, sampleRate: 48_000, channels: 1, preSkip: opus.lookahead),
        ], segment: 0, overwrite: false)
        // 3 s, cut every second, as the composite does: the frame at a boundary is a keyframe, the
        // audio block there ends the previous file in a trimmed tail and starts a fresh encoder.
        var v = 0, a = 0, segment = 0
        while v < 90 || a < 150 {
            let vTime = Int64(v) * 1000 / 30, aTime = Int64(a) * 20
            let time = v < 90 && vTime <= aTime ? vTime : aTime
            if time / 1000 > segment {
                segment = Int(time / 1000)
                try writer.startSegment(index: segment, atMillis: Int64(segment) * 1000)
                #expect(fileExists(SegmentedWebMWriter.segmentPath(path, index: segment - 1) + ".partial"), "the previous file waits for its audio")
            }
            if v < 90 && vTime <= aTime {
                let picture = WebMWriterTests.picture(v, width: 160, height: 120)
                for p in try video.encode(picture, pts: Int64(v), forceKeyframe: vTime == Int64(segment) * 1000) {
                    try writer.write(track: 0, data: p.data, ptsMillis: p.pts * 1000 / 30, isKeyframe: p.isKeyframe)
                }
                v += 1
            } else {
                let pcm = sineWave(frequency: 440, sampleRate: 48_000, count: 960, startSample: a * 960, amplitude: 0.5)
                if a > 0 && aTime % 1000 == 0 {
                    try writer.writeTail(track: 1, data: try opus.encode(pcm), ptsMillis: aTime, discardPaddingSamples: 960 - opus.lookahead)
                    opus = try OpusEncoder()
                }
                try writer.write(track: 1, data: try opus.encode(pcm), ptsMillis: aTime, isKeyframe: true)
                #expect(!fileExists(SegmentedWebMWriter.segmentPath(path, index: segment - 1) + ".partial"), "finished once both tracks crossed")
                a += 1
            }
        }
        let files = try writer.finish()
        #expect(files.map(\.index) == [0, 1, 2] && files.map(\.startMillis) == [0, 1000, 2000])
        #expect(files.map(\.frames) == [80, 80, 80], "30 frames + 50 blocks each; tails not counted")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["room-000.webm", "room-001.webm", "room-002.webm"])
        var samples = 0
        for file in files {
            let probe = try Probe(file.path)
            #expect(abs((probe.duration ?? 0) - 1) < 0.001, "\(file.path): \(probe.duration ?? 0) s")
            #expect(int(probe.stream("video")?["nb_read_frames"]) == 30)
            let first = try run(ffprobePath!, ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags",
                                               "-read_intervals", "%+#1", "-of", "csv=p=0", file.path])
            #expect(String(decoding: first.stdout, as: UTF8.self).hasPrefix("0.000000,K"), "\(file.path) starts at 0 with a keyframe")
            samples += try decodeAudio(file.path).count
        }
        // The whole stream is 3 s less the first encoder's lookahead (never flushed at the very end): no gap, no overlap.
        #expect(samples == 144_000 - opus.lookahead, "decoded \(samples) samples")
    }

    @Test func abortKeepsFinishedSegmentsAndLeavesTheOpenOnesPartial() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/a.webm"
        let writer = try SegmentedWebMWriter(path: path, tracks: [.audio(codec: .opus, sampleRate: 48_000, channels: 1, preSkip: 312)],
                                             segment: 0, overwrite: false)
        let packet = try OpusEncoder().encode(sineWave(frequency: 440, sampleRate: 48_000, count: 960))
        for (t, segment) in [(Int64(0), 0), (10_000, 1), (20_000, 2)] {
            if segment > 0 { try writer.startSegment(index: segment, atMillis: t) }
            try writer.write(track: 0, data: packet, ptsMillis: t, isKeyframe: true)
        }
        #expect(writer.finished.map(\.index) == [0, 1])
        writer.abort()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["a-000.webm", "a-001.webm", "a-002.webm.partial"])
        // A segment that exists is not overwritten unless asked.
        #expect(throws: WebMError.self) { _ = try SegmentedWebMWriter(path: path, tracks: [.audio(codec: .opus, sampleRate: 48_000, channels: 1, preSkip: 312)], segment: 0, overwrite: false) }
    }
}
