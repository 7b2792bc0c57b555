import Capture
import Foundation
import Testing

/// Capture clock and RTP timestamp jumps (issue 12, item 6): the transcode finishes promptly, the
/// outputs last as long as the media (not the jump), what came before and after the jump is in
/// them, a warning names the stream and the jump, and `inspect` prints no negative duration.
@Suite struct ClockJumpTests {
    static let seconds = 6.0
    /// Longer than a debug transcode of the 6 s room takes (about 5 s), far shorter than a jump's span.
    static let timeLimit = "90"

    /// A synthetic one-participant pcap of ``seconds``, each packet passed through `edit` first.
    static func room(_ dir: String, _ edit: (inout CapturedPacket) -> Void) throws -> String {
        let synth = dir + "/synth.pcap"
        try #require(try Tool.flowrec("synth", "--participants", "1", "--seconds", "\(Int(seconds))s", "--format", "pcap", "--out", synth).status == 0)
        let reader = try PcapReader(path: synth)
        let path = dir + "/room.pcap"
        let writer = try PcapWriter(path: path)
        while var packet = try reader.next() {
            edit(&packet)
            try writer.write(packet.data, flow: packet.flow!, atMicros: packet.arrivalMicros)
        }
        try writer.close()
        return path
    }

    static func isRTP(_ data: [UInt8], payloadType: UInt8) -> Bool { !(200...206).contains(data[1]) && data[1] & 0x7F == payloadType }
    static func timestamp(_ data: [UInt8]) -> UInt32 { data[4..<8].reduce(0) { $0 << 8 | UInt32($1) } }
    static func ssrc(_ data: [UInt8]) -> String { "0x" + data[8..<12].map { String(format: "%02x", $0) }.joined() }

    /// Transcodes `path` into a composite and the participant's file within ``timeLimit``; checks
    /// both last about as long as the media and hold it whole; returns stderr and the participant's file.
    static func transcode(_ path: String, _ dir: String) throws -> (stderr: String, track: String) {
        let started = Date()
        let result = try Tool.run("/usr/bin/timeout", [timeLimit, Tool.flowrec, "transcode", path, "--pipeline", "grid-720p", "--tracks", "--out", dir + "/out/room.webm"])
        let wall = Date().timeIntervalSince(started)
        #expect(result.status == 0, "exit \(result.status) after \(wall) s: \(result.stderr.suffix(2000))")
        let composite = try Probe(dir + "/out/room.webm")
        #expect(abs(composite.duration - seconds) < 0.5, "composite \(composite.duration) s")
        let track = try #require(try FileManager.default.contentsOfDirectory(atPath: dir + "/out").first { $0.hasPrefix("room.") && $0 != "room.webm" })
        let probe = try Probe(dir + "/out/" + track)
        #expect(abs(probe.duration - seconds) < 0.5, "\(track): \(probe.duration) s")
        // Before and after the jump: every frame (30 fps, 20 ms audio), give or take the edges.
        #expect(Double(probe.video?.frames ?? 0) >= seconds * 30 * 0.95, "\(track): \(probe.video?.frames ?? 0) video frames")
        #expect(Double(probe.audio?.frames ?? 0) >= seconds * 50 * 0.95, "\(track): \(probe.audio?.frames ?? 0) audio frames")
        // The tone goes on after the jump.
        let samples = try Decode.audio(dir + "/out/" + track)
        let rms = { (from: Double, to: Double) -> Double in
            let part = samples[min(samples.count, Int(from * 48_000))..<min(samples.count, Int(to * 48_000))]
            return (part.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, part.count))).squareRoot()
        }
        #expect(rms(0.5, 2.5) > 1000 && rms(3.5, 5.5) > 1000, "rms before \(rms(0.5, 2.5)), after \(rms(3.5, 5.5))")
        return (result.stderr, dir + "/out/" + track)
    }

    /// `inspect --json`: every stream's duration about the media's, never negative; the jumps per stream.
    static func inspect(_ path: String) throws -> [String: Int] {
        let result = try Tool.flowrec("inspect", path, "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        var jumps: [String: Int] = [:]
        for stream in json["streams"] as? [[String: Any]] ?? [] {
            let duration = stream["durationSeconds"] as? Double ?? -1
            #expect(duration >= 0 && abs(duration - seconds) < 0.5, "\(stream["ssrc"] ?? "?"): \(duration) s")
            jumps[stream["ssrc"] as? String ?? "?"] = stream["timestampJumps"] as? Int
        }
        #expect(!result.stdout.contains("-0.") && !result.stdout.contains("\"durationSeconds\":-"))
        return jumps
    }

    /// One record stamped three years later: a capture clock jump, not three years of composite.
    @Test func recordStampedYearsLater() throws {
        let dir = try Tool.temporaryFolder()
        var index = 0
        let path = try Self.room(dir) { packet in
            guard !(200...206).contains(packet.data[1]) else { return }
            index += 1
            if index == 300 { packet.arrivalMicros += 3 * 365 * 86_400 * 1_000_000 }
        }
        let (stderr, _) = try Self.transcode(path, dir)
        #expect(LogLines.messages(stderr, level: "warning").contains { $0.contains("room.pcap: capture clock jumped +94608000") }, "\(stderr)")
        _ = try Self.inspect(path)
    }

    /// An RTP timestamp jump of ±2^30 half-way, in the audio or the video stream: a discontinuity;
    /// the stream goes on after it with no gap, the warning names it, the counts say so.
    static let jumps: [(UInt8, Int64)] = [(111, 1 << 30), (111, -(1 << 30)), (96, 1 << 30), (96, -(1 << 30))]

    @Test(arguments: jumps)
    func rtpTimestampJump(payloadType: UInt8, jump: Int64) throws {
        let dir = try Tool.temporaryFolder()
        var first: Int64?
        var stream = ""
        let path = try Self.room(dir) { packet in
            guard Self.isRTP(packet.data, payloadType: payloadType) else { return }
            first = first ?? packet.arrivalMicros
            guard packet.arrivalMicros - first! >= 3_000_000 else { return }
            stream = Self.ssrc(packet.data)
            let moved = Self.timestamp(packet.data) &+ UInt32(truncatingIfNeeded: jump)
            for i in 0..<4 { packet.data[4 + i] = UInt8(truncatingIfNeeded: moved >> UInt32(24 - 8 * i)) }
        }
        let (stderr, _) = try Self.transcode(path, dir)
        // The step reported is the jump plus one frame's (20 ms of audio, 1/30 s of video).
        let warning = "\(stream) (\(payloadType == 111 ? "opus" : "vp8")): RTP timestamp jumped \(jump > 0 ? "+" : "")\(jump / 1_000_000)"
        let warned = LogLines.messages(stderr, level: "warning").filter { $0.contains(warning) }
        #expect(warned.count == 1, "\(stderr)")
        let reported = warned.first.flatMap { Int64($0.components(separatedBy: "jumped ")[1].prefix { $0 != " " }.replacingOccurrences(of: "+", with: "")) }
        #expect(reported.map { abs($0 - jump) <= 3000 } == true, "\(warned)")
        let jumps = try Self.inspect(path)
        #expect(jumps[stream] == 1, "\(jumps)")
        #expect(jumps.values.reduce(0, +) == 1, "\(jumps)")
    }
}
