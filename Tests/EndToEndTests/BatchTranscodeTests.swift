import Foundation
import Media
import Synth
import Testing

/// `flowrec transcode --batch`: folders of Janus recordings from several rooms and sessions →
/// one set of outputs per group, skipped when done, a failed group reported while the others finish.
@Suite(.serialized) struct BatchTranscodeTests {
    static let toolsPresent = Tool.exists("ffprobe") && Tool.exists("ffmpeg")
    static let synthStart: Int64 = 1_767_225_600_000_000  // synth's fixed start, 2026-01-01T00:00:00Z

    /// Synthesises a 2-participant room into `folder` and renames its files as Janus would name
    /// them in room `room`, started `shiftMicros` later (synth always writes room 1234 at its fixed start).
    private func makeRoom(_ folder: String, room: String, shiftMicros: Int64 = 0, seconds: Int = 4) throws {
        let synth = try Tool.flowrec("synth", "--participants", "2", "--seconds", "\(seconds)s", "--format", "mjr", "--out", folder)
        try #require(synth.status == 0, "synth failed: \(synth.stderr)")
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
            let renamed = name.replacingOccurrences(of: "videoroom-1234-", with: "videoroom-\(room)-")
                .replacingOccurrences(of: "-\(Self.synthStart)-", with: "-\(Self.synthStart + shiftMicros)-")
            if renamed != name { try FileManager.default.moveItem(atPath: folder + "/" + name, toPath: folder + "/" + renamed) }
        }
    }

    private func modificationDates(_ folder: String) throws -> [String: Date] {
        var dates: [String: Date] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
            dates[name] = try FileManager.default.attributesOfItem(atPath: folder + "/" + name)[.modificationDate] as? Date
        }
        return dates
    }

    @Test(.enabled(if: toolsPresent)) func groupsTranscodesSkipsAndReportsAFailedGroup() throws {
        let dir = try Tool.temporaryFolder()
        let input = dir + "/janus"
        try makeRoom(input + "/a", room: "1234")
        try makeRoom(input + "/b/deep", room: "lobby-b")  // a string id with a dash, two folders down
        try makeRoom(input + "/c", room: "1234", shiftMicros: 3 * 3_600_000_000)  // room 1234 again, three hours later
        let out = dir + "/out"

        let first = try Tool.flowrec("transcode", "--batch", input, "--out", out, "-j", "2", "--tracks")
        #expect(first.status == 0, "exit \(first.status): \(first.stderr)")
        let groups = ["1234-20260101T000000Z", "lobby-b-20260101T000000Z", "1234-20260101T030000Z"]
        let lines = first.stdout.split(separator: "\n").map(String.init)
        #expect(Set(lines.prefix(3)) == Set(groups.map { "\($0): done" }), "\(first.stdout)")
        #expect(lines.last == "batch: 3 done, 0 skipped, 0 failed")
        // One progress line per group ended (stderr is not a terminal here).
        let progress = LogLines.entries(first.stderr).filter { $0["msg"] as? String == "progress" && $0["groups"] != nil }
        #expect(progress.compactMap { $0["groups"] as? String }.sorted() == ["1/3", "2/3", "3/3"], "\(first.stderr)")
        #expect(Set(progress.compactMap { $0["group"] as? String }) == Set(groups), "\(first.stderr)")

        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(files == groups.flatMap { ["\($0).1001.webm", "\($0).1002.webm"] }.sorted())
        let candidates = (0..<4).map { SynthParticipant(index: $0).toneHz }
        for group in groups {
            for index in 0..<2 {
                let participant = SynthParticipant(index: index)
                let path = "\(out)/\(group).\(participant.userID).webm"
                let probe = try Probe(path)
                #expect(probe.video?.codec == "vp8" && probe.audio?.codec == "opus", "\(path)")
                #expect(abs(probe.duration - 4) < 0.1, "\(path): duration \(probe.duration)")
                let samples = try Decode.audio(path)
                let middle = Array(samples[(samples.count / 4)..<(samples.count * 3 / 4)])
                #expect(dominantFrequency(middle, sampleRate: 48_000, candidates: candidates) == participant.toneHz, "\(path): tone")
                let other = SynthParticipant(index: 1 - index).toneHz
                #expect(goertzelPower(middle, frequency: participant.toneHz, sampleRate: 48_000)
                    > 100 * goertzelPower(middle, frequency: other, sampleRate: 48_000), "\(path): the other participant's tone leaks in")
            }
        }

        // Again: everything is done already, nothing is rewritten.
        let before = try modificationDates(out)
        let second = try Tool.flowrec("transcode", "--batch", input, "--out", out, "-j", "2", "--tracks")
        #expect(second.status == 0, "exit \(second.status): \(second.stderr)")
        #expect(Set(second.stdout.split(separator: "\n").prefix(3).map(String.init)) == Set(groups.map { "\($0): skipped" }))
        #expect(second.stdout.hasSuffix("batch: 0 done, 3 skipped, 0 failed\n"))
        #expect(try modificationDates(out) == before)

        // Corrupt a frame marker in one of lobby-b's recordings.
        let bad = try #require(try FileManager.default.contentsOfDirectory(atPath: input + "/b/deep").first { $0.contains("1001") && $0.contains("video") })
        let badPath = input + "/b/deep/" + bad
        var data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: badPath)))
        let marker = Array("MEET".utf8)
        let frames = (0...(data.count - 4)).lazy.filter { Array(data[$0..<($0 + 4)]) == marker }
        let offset = try #require(frames.dropFirst(5).first)
        data.replaceSubrange(offset..<(offset + 4), with: Array("JUNK".utf8))
        try Data(data).write(to: URL(fileURLWithPath: badPath))

        // Its input is newer than its outputs, so lobby-b is made again (and fails); the others are skipped.
        let third = try Tool.flowrec("transcode", "--batch", input, "--out", out, "-j", "2", "--tracks")
        #expect(third.status == 65, "exit \(third.status): \(third.stderr)")
        let failedLine = "lobby-b-20260101T000000Z: failed: \(badPath): byte \(offset): expected frame marker \"MEET\", found \"JUNK\""
        #expect(third.stdout.contains(failedLine + "\n"), "\(third.stdout)")
        #expect(third.stdout.contains("1234-20260101T000000Z: skipped\n") && third.stdout.contains("1234-20260101T030000Z: skipped\n"))
        #expect(third.stdout.hasSuffix("batch: 0 done, 2 skipped, 1 failed\n"))
        #expect(LogLines.messages(third.stderr, level: "error").contains { $0.hasPrefix("\(badPath): byte \(offset)") }, "\(third.stderr)")

        // --force makes every group again: the failed one does not stop the others.
        let fourth = try Tool.flowrec("transcode", "--batch", input, "--out", out, "-j", "2", "--tracks", "--force")
        #expect(fourth.status == 65, "exit \(fourth.status): \(fourth.stderr)")
        #expect(fourth.stdout.contains(failedLine + "\n"))
        #expect(fourth.stdout.contains("1234-20260101T000000Z: done\n") && fourth.stdout.contains("1234-20260101T030000Z: done\n"))
        #expect(fourth.stdout.hasSuffix("batch: 2 done, 0 skipped, 1 failed\n"))
        #expect(try Probe("\(out)/1234-20260101T030000Z.1002.webm").duration > 3.9)
    }

    /// Rewrites the `u` of an `.mjr` info header to `value` (its length field follows the JSON).
    static func setFirstPacketTime(_ path: String, _ value: String) throws {
        var bytes = [UInt8](try #require(FileManager.default.contents(atPath: path)))
        let length = Int(bytes[8]) << 8 | Int(bytes[9])
        let json = String(decoding: bytes[10..<(10 + length)], as: UTF8.self)
        let edited = Array(json.replacingOccurrences(of: #""u":[0-9]+"#, with: "\"u\":\(value)", options: .regularExpression).utf8)
        try #require(json.contains("\"u\":"), "\(json)")
        bytes.replaceSubrange(8..<(10 + length), with: [UInt8(edited.count >> 8), UInt8(edited.count & 0xFF)] + edited)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// A group whose `.mjr` says `u` is Int64.max (it made the scan trap: exit 132, no summary):
    /// that group fails with the file and field named, the other is made, the summary is printed.
    @Test(.enabled(if: toolsPresent)) func extremeHeaderFailsItsGroupOnly() throws {
        let dir = try Tool.temporaryFolder()
        let input = dir + "/janus"
        try makeRoom(input + "/a", room: "good", seconds: 2)
        try makeRoom(input + "/b", room: "bad", seconds: 2)
        let bad = try #require(try FileManager.default.contentsOfDirectory(atPath: input + "/b").first { $0.contains("-audio") })
        try Self.setFirstPacketTime(input + "/b/" + bad, "9223372036854775807")
        let result = try Tool.flowrec("transcode", "--batch", input, "--out", dir + "/out", "--tracks")
        #expect(result.status == 65, "exit \(result.status): \(result.stderr.suffix(2000))")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("good-20260101T000000Z: done"), "\(result.stdout)")
        #expect(lines.contains { $0.hasPrefix("bad-") && $0.contains("failed") && $0.contains(bad) && $0.contains("\"u\"") }, "\(result.stdout)")
        #expect(lines.last == "batch: 1 done, 0 skipped, 1 failed", "\(result.stdout)")
        #expect(try Probe(dir + "/out/good-20260101T000000Z.1001.webm").duration > 1.9)
    }

    @Test func batchOptionsAreChecked() throws {
        let dir = try Tool.temporaryFolder()
        #expect(try Tool.flowrec("transcode", dir, "--tracks", "--out", dir + "/out", "-j", "2").status == 64)
        #expect(try Tool.flowrec("transcode", "--batch", dir, "--out", dir + "/out.webm").status == 64)
        #expect(try Tool.flowrec("transcode", "--batch", dir, "--out", dir + "/out", "-j", "0").status == 64)
        // A folder with nothing in it is not an error: nothing to do.
        let empty = try Tool.flowrec("transcode", "--batch", dir, "--out", dir + "/out", "--tracks")
        #expect(empty.status == 0, "\(empty.stderr)")
        #expect(empty.stdout == "batch: 0 done, 0 skipped, 0 failed\n")
        #expect(try Tool.flowrec("transcode", "--batch", dir + "/missing", "--out", dir + "/out").status == 65)
    }
}
