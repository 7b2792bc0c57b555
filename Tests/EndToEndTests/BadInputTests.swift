import Foundation
import Testing

/// The CLI on bad input: a message that names what and where, the documented exit code, no crash,
/// no half-written file posing as a finished one.
@Suite struct BadInputTests {
    @Test func garbageFileIsRejectedWithOffset() throws {
        let dir = try Tool.temporaryFolder()
        let path = dir + "/garbage.mjr"
        _ = FileManager.default.createFile(atPath: path, contents: Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919) }))
        let result = try Tool.flowrec("transcode", path, "--tracks", "--out", dir + "/out")
        #expect(result.status == 65, "exit \(result.status): \(result.stderr)")
        #expect(result.stderr.contains("garbage.mjr"))
        #expect(result.stderr.contains("byte"))
        let written = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/out")) ?? []
        #expect(written.isEmpty)
    }

    @Test func missingInputIsAUsageOrInputError() throws {
        let result = try Tool.flowrec("inspect", "/nonexistent/room.pcap")
        #expect(result.status == 65)
        #expect(result.stderr.contains("/nonexistent/room.pcap"))
    }

    @Test func truncatedRecordingKeepsEverythingBefore() throws {
        let dir = try Tool.temporaryFolder()
        let room = dir + "/room"
        try #require(try Tool.flowrec("synth", "--participants", "1", "--seconds", "4s", "--out", room).status == 0)
        let video = try #require(try FileManager.default.contentsOfDirectory(atPath: room).first { $0.contains("-video-") })
        let path = room + "/" + video
        let data = try #require(FileManager.default.contents(atPath: path))
        // Cut in the middle of the last frame, as a crash would.
        try data.prefix(data.count - 100).write(to: URL(fileURLWithPath: path))
        let result = try Tool.flowrec("transcode", room, "--tracks", "--out", dir + "/out")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(LogLines.messages(result.stderr, level: "warning").contains { $0.contains(video) }, "\(result.stderr)")
        let probe = try Probe(dir + "/out/1001.webm")
        #expect((probe.video?.frames ?? 0) >= 115)
        #expect(abs(probe.duration - 4) < 0.1)
    }

    @Test func existingOutputIsNotOverwrittenWithoutForce() throws {
        let dir = try Tool.temporaryFolder()
        let room = dir + "/room.pcap"
        try #require(try Tool.flowrec("synth", "--participants", "1", "--seconds", "2s", "--format", "pcap", "--out", room).status == 0)
        try #require(try Tool.flowrec("transcode", room, "--tracks", "--out", dir + "/out").status == 0)
        let before = try FileManager.default.attributesOfItem(atPath: dir + "/out/user-1001.webm")[.size] as? Int
        let again = try Tool.flowrec("transcode", room, "--tracks", "--out", dir + "/out")
        #expect(again.status == 73, "exit \(again.status): \(again.stderr)")
        #expect(again.stderr.contains("user-1001.webm"))
        #expect(try FileManager.default.attributesOfItem(atPath: dir + "/out/user-1001.webm")[.size] as? Int == before)
        #expect(try Tool.flowrec("transcode", room, "--tracks", "--out", dir + "/out", "--force").status == 0)
    }

    /// A read-only output (a read-only tmpfs in a private mount namespace: root ignores file modes)
    /// cannot be created: exit 73 with the path, as documented.
    @Test(.enabled(if: LiveNetwork.available)) func readOnlyOutputExits73() throws {
        let dir = try Tool.temporaryFolder()
        let room = dir + "/room.pcap"
        try #require(try Tool.flowrec("synth", "--participants", "1", "--seconds", "2s", "--format", "pcap", "--out", room).status == 0)
        try FileManager.default.createDirectory(atPath: dir + "/ro", withIntermediateDirectories: true)
        for out in [dir + "/ro/out", dir + "/ro/room.webm"] {
            let script = "mount -t tmpfs -o ro tmpfs '\(dir)/ro' && exec '\(Tool.flowrec)' transcode '\(room)' --tracks --out '\(out)'"
            let result = try Tool.run("/usr/bin/unshare", ["--mount", "/bin/sh", "-c", script])
            #expect(result.status == 73, "exit \(result.status) for \(out): \(result.stderr)")
            #expect(result.stderr.contains(dir + "/ro"), "\(result.stderr)")
        }
    }

    @Test func outputNamedWebmPutsParticipantsBesideIt() throws {
        let dir = try Tool.temporaryFolder()
        let room = dir + "/room.rtpdump"
        try #require(try Tool.flowrec("synth", "--participants", "2", "--seconds", "2s", "--format", "rtpdump", "--out", room).status == 0)
        let result = try Tool.flowrec("transcode", room, "--tracks", "--out", dir + "/rec/meeting.webm")
        #expect(result.status == 0, "\(result.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/rec").sorted()
        #expect(files == ["meeting.user-1001.webm", "meeting.user-1002.webm"])
    }

    @Test func badOptionsAreUsageErrors() throws {
        #expect(try Tool.flowrec("synth", "--out", "/tmp/x", "--seconds", "ten").status == 64)
        #expect(try Tool.flowrec("inspect", "x.pcap", "--pt", "111=speex").status == 64)
    }
}
