import Foundation
import Testing
import Media
@testable import WebM

@Suite("WebM writer")
struct WebMWriterTests {
    static let background = (y: UInt8(81), u: UInt8(90), v: UInt8(240))
    static let square = (y: UInt8(145), u: UInt8(54), v: UInt8(34))

    static func picture(_ i: Int, width: Int, height: Int) -> I420Frame {
        var f = I420Frame(width: width, height: height, y: background.y, u: background.u, v: background.v)
        f.fill(rect: PixelRect(x: (4 * i) % max(1, width - 32), y: height / 4, width: 32, height: 32),
               y: square.y, u: square.u, v: square.v)
        return f
    }

    /// Writes `seconds` of video (30 fps) + a 440 Hz Opus tone (20 ms) into `writer`, in time
    /// order as a live pipeline would. `sizeAt` gives the picture size for frame i (a new encoder
    /// is made when it changes).
    static func writeAV(_ writer: WebMWriter, codec: Codec, seconds: Int = 2,
                        sizeAt: (Int) -> (Int, Int) = { _ in (320, 240) }, opus: OpusEncoder) throws {
        var encoder: VPXEncoder? = nil
        let videoFrames = 30 * seconds, audioFrames = 50 * seconds
        var v = 0, a = 0
        while v < videoFrames || a < audioFrames {
            let vTime = Int64(v) * 1000 / 30, aTime = Int64(a) * 20
            if v < videoFrames && (a >= audioFrames || vTime <= aTime) {
                let (w, h) = sizeAt(v)
                if encoder?.settings.width != w || encoder?.settings.height != h {
                    encoder = try VPXEncoder(.init(codec: codec, width: w, height: h, fps: 30, bitrateKbps: 600))
                }
                for p in try encoder!.encode(picture(v, width: w, height: h), pts: Int64(v)) {
                    try writer.write(track: 0, data: p.data, ptsMillis: p.pts * 1000 / 30, isKeyframe: p.isKeyframe)
                }
                v += 1
            } else {
                let pcm = sineWave(frequency: 440, sampleRate: 48_000, count: 960, startSample: a * 960, amplitude: 0.5)
                try writer.write(track: 1, data: try opus.encode(pcm), ptsMillis: aTime, isKeyframe: true,
                                 durationMillis: a % 2 == 0 ? 20 : nil)  // nil: derived from the TOC
                a += 1
            }
        }
    }

    @Test(.enabled(if: haveFFTools, "ffprobe/ffmpeg not installed: cannot check the file by decoding it"),
          arguments: [Codec.vp8, .vp9])
    func audioVideoFileDecodes(codec: Codec) throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/out.webm"
        let opus = try OpusEncoder()
        let writer = try WebMWriter(path: path, tracks: [
            .video(codec: codec, width: 320, height: 240),
            .audio(codec: .opus, sampleRate: 48_000, channels: 1, preSkip: opus.lookahead),
        ])
        #expect(fileExists(path + ".partial"))
        #expect(!fileExists(path))
        try Self.writeAV(writer, codec: codec, opus: opus)
        #expect(writer.framesWritten == [60, 100])
        try writer.finish()
        #expect(fileExists(path))
        #expect(!fileExists(path + ".partial"))
        #expect(writer.timestampsAdjusted == 0)

        let probe = try Probe(path)
        #expect(probe.streams.count == 2)
        let video = try #require(probe.stream("video"))
        let audio = try #require(probe.stream("audio"))
        #expect(video["codec_name"] as? String == codec.rawValue)
        #expect(int(video["width"]) == 320 && int(video["height"]) == 240)
        #expect(int(video["nb_read_frames"]) == 60)
        #expect(audio["codec_name"] as? String == "opus")
        #expect(int(audio["channels"]) == 1)
        #expect(int(audio["sample_rate"]) == 48_000)
        #expect(int(audio["nb_read_frames"]) == 100)
        let duration = try #require(probe.duration)
        #expect(abs(duration - 2.0) <= 0.05, "duration \(duration)")
        #expect((probe.format["format_name"] as? String)?.contains("webm") == true)
        // Video starts at 0; audio packets start one pre-skip (CodecDelay) earlier, so the first
        // real sample, after the pre-skip is trimmed, also plays at 0.
        let videoStart = try #require((video["start_time"] as? String).flatMap(Double.init))
        let audioStart = try #require((audio["start_time"] as? String).flatMap(Double.init))
        #expect(videoStart == 0, "video start \(videoStart)")
        #expect(abs(audioStart + Double(opus.lookahead) / 48_000) <= 0.001, "audio start \(audioStart)")

        let pcm = try decodeAudio(path)
        #expect(abs(pcm.count - (96_000 - opus.lookahead)) <= 960, "decoded \(pcm.count) samples")
        let settled = Array(pcm.dropFirst(4_800))
        #expect(dominantFrequency(settled, sampleRate: 48_000, candidates: [440, 880, 1000]) == 440)
        #expect(abs(rmsLevel(settled) - 0.354) < 0.06, "level \(rmsLevel(settled))")

        let pictures = try decodeVideo(path, width: 320, height: 240, count: 60)
        #expect(pictures.count == 60)
        if let last = pictures.last {
            let bg = last.averageColor(in: PixelRect(x: 8, y: 180, width: 100, height: 40))
            #expect(abs(bg.y - 81) < 8 && abs(bg.u - 90) < 8 && abs(bg.v - 240) < 8, "background \(bg)")
        }
    }

    @Test(.enabled(if: haveFFTools, "ffprobe/ffmpeg not installed: cannot check the file by decoding it"),
          arguments: [Codec.vp8, .vp9])
    func resolutionChangeStaysPlayable(codec: Codec) throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/resize.webm"
        let opus = try OpusEncoder()
        let writer = try WebMWriter(path: path, tracks: [
            .video(codec: codec, width: 320, height: 240),
            .audio(codec: .opus, sampleRate: 48_000, channels: 1, preSkip: opus.lookahead),
        ])
        try Self.writeAV(writer, codec: codec, sizeAt: { $0 < 30 ? (320, 240) : (160, 120) }, opus: opus)
        try writer.finish()
        let probe = try Probe(path)
        let video = try #require(probe.stream("video"))
        #expect(int(video["width"]) == 320 && int(video["height"]) == 240)  // the first size
        #expect(int(video["nb_read_frames"]) == 60)
        // ffmpeg decodes straight through the change (scaling everything to one output size).
        let pictures = try decodeVideo(path, width: 320, height: 240, count: 60)
        #expect(pictures.count == 60)
        if pictures.count == 60 {
            let bg = pictures[59].averageColor(in: PixelRect(x: 8, y: 180, width: 100, height: 40))
            #expect(abs(bg.y - 81) < 10 && abs(bg.u - 90) < 10 && abs(bg.v - 240) < 10, "background after resize \(bg)")
        }
    }

    @Test func refusesToOverwriteUnlessAsked() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/exists.webm"
        try Data("precious".utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try WebMWriter(path: path, tracks: [.video(codec: .vp8, width: 64, height: 64)])
            Issue.record("overwrote an existing file")
        } catch {
            #expect(error.path == path)
            #expect(error.description.contains(path))
            #expect(error.reason.contains("exists"))
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "precious")
        #expect(!fileExists(path + ".partial"))

        let writer = try WebMWriter(path: path, tracks: [.video(codec: .vp8, width: 64, height: 64)], overwrite: true)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "precious")  // untouched until finish
        let enc = try VPXEncoder(.init(codec: .vp8, width: 64, height: 64))
        for i in 0..<3 {
            for p in try enc.encode(I420Frame(width: 64, height: 64, y: 100), pts: Int64(i)) {
                try writer.write(track: 0, data: p.data, ptsMillis: p.pts * 33, isKeyframe: p.isKeyframe)
            }
        }
        try writer.finish()
        let header = try Data(contentsOf: URL(fileURLWithPath: path)).prefix(4)
        #expect(Array(header) == [0x1A, 0x45, 0xDF, 0xA3])  // EBML magic
    }

    @Test func abortRemovesOrKeepsThePartialFile() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/aborted.webm"
        let opus = try OpusEncoder()
        let packet = try opus.encode(sineWave(frequency: 440, sampleRate: 48_000, count: 960))

        let w1 = try WebMWriter(path: path, tracks: [.audio(codec: .opus, sampleRate: 48_000, channels: 1, preSkip: 312)])
        try w1.write(track: 0, data: packet, ptsMillis: 0, isKeyframe: true)
        w1.abort()
        #expect(!fileExists(path + ".partial"))
        #expect(!fileExists(path))
        w1.abort()  // idempotent
        #expect(throws: WebMError.self) { try w1.write(track: 0, data: packet, ptsMillis: 20, isKeyframe: true) }
        #expect(throws: WebMError.self) { try w1.finish() }

        let w2 = try WebMWriter(path: path, tracks: [.audio(codec: .opus, sampleRate: 48_000, channels: 1, preSkip: 312)])
        try w2.write(track: 0, data: packet, ptsMillis: 0, isKeyframe: true)
        w2.abort(keepPartial: true)
        #expect(fileExists(path + ".partial"))
        #expect(!fileExists(path))
    }

    @Test func rejectsBadInput() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: WebMError.self) { try WebMWriter(path: "\(dir)/a.webm", tracks: []) }
        #expect(throws: WebMError.self) { try WebMWriter(path: "\(dir)/b.webm", tracks: [.video(codec: .h264, width: 64, height: 64)]) }
        #expect(throws: WebMError.self) { try WebMWriter(path: "\(dir)/c.webm", tracks: [.audio(codec: .vp8, sampleRate: 48_000, channels: 1, preSkip: 0)]) }
        #expect(!fileExists("\(dir)/b.webm.partial"))
        // A directory that does not exist: avio_open fails with libav's error text.
        do {
            _ = try WebMWriter(path: "\(dir)/missing/d.webm", tracks: [.video(codec: .vp8, width: 64, height: 64)])
            Issue.record("opened a file in a missing directory")
        } catch {
            #expect(error.reason.contains("No such file or directory"), "\(error)")
        }
        let w = try WebMWriter(path: "\(dir)/e.webm", tracks: [.video(codec: .vp8, width: 64, height: 64)])
        #expect(throws: WebMError.self) { try w.write(track: 1, data: [1], ptsMillis: 0, isKeyframe: true) }
        #expect(throws: WebMError.self) { try w.write(track: 0, data: [], ptsMillis: 0, isKeyframe: true) }
        w.abort()
    }

    @Test(.enabled(if: haveFFTools, "ffprobe not installed"))
    func nonIncreasingTimestampsAreNudged() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/ts.webm"
        let w = try WebMWriter(path: path, tracks: [.video(codec: .vp8, width: 64, height: 64)])
        let enc = try VPXEncoder(.init(codec: .vp8, width: 64, height: 64))
        let stamps: [Int64] = [0, 33, 33, 20, 100]
        for (i, ts) in stamps.enumerated() {
            for p in try enc.encode(I420Frame(width: 64, height: 64, y: 100), pts: Int64(i)) {
                try w.write(track: 0, data: p.data, ptsMillis: ts, isKeyframe: p.isKeyframe)
            }
        }
        #expect(w.timestampsAdjusted == 2)
        try w.finish()
        let r = try run(ffprobePath!, ["-v", "error", "-show_entries", "packet=pts", "-of", "csv=p=0", path])
        let pts = String(decoding: r.stdout, as: UTF8.self).split(whereSeparator: \.isNewline).compactMap { Int($0) }
        #expect(pts == [0, 33, 34, 35, 100])
    }

    @Test func opusHeadAndTOC() throws {
        let head = opusHead(channels: 2, preSkip: 312, inputSampleRate: 48_000)
        #expect(head == Array("OpusHead".utf8) + [1, 2, 0x38, 0x01, 0x80, 0xBB, 0x00, 0x00, 0, 0, 0])
        #expect(head.count == 19)
        let enc = try OpusEncoder()
        #expect(OpusPacketInfo.sampleCount(try enc.encode([Int16](repeating: 0, count: 960))) == 960)
        #expect(OpusPacketInfo.sampleCount(try enc.encode([Int16](repeating: 0, count: 2880))) == 2880)
        #expect(OpusPacketInfo.sampleCount(try enc.encode([Int16](repeating: 0, count: 240))) == 240)
        #expect(OpusPacketInfo.sampleCount([]) == nil)
    }
}
