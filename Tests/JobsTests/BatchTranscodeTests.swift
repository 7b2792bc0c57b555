import Foundation
@testable import Ingest
@testable import Jobs
import Pipeline
import Synth
import Testing

/// `transcode --batch`: grouping by room and session, the skip check, the worker pool and the summary.
@Suite struct BatchGroupingTests {
    static let t0: Int64 = 1_767_225_600_000_000  // 2026-01-01T00:00:00Z
    static let minute: Int64 = 60_000_000

    /// A Janus file of `room`/`user` starting `startMinutes` after t0 and lasting `minutes`.
    static func janus(_ room: String, _ user: String, _ startMinutes: Int64, minutes: Int64 = 1, kind: String = "audio",
                      folder: String = "/rec") -> BatchInputFile {
        let start = t0 + startMinutes * minute
        return BatchInputFile(path: "\(folder)/videoroom-\(room)-user-\(user)-\(start)-\(kind).mjr", endMicros: start + minutes * minute)
    }

    static func names(_ groups: [BatchGroup]) -> [String] { groups.map(\.name) }

    @Test func roomsAreSeparateAndSortedByStart() {
        let files = [
            Self.janus("1234", "1001", 5), Self.janus("1234", "1002", 5, kind: "video-1"),
            Self.janus("42", "7", 0), Self.janus("42", "8", 1),
        ]
        let groups = BatchGrouping.groups(files)
        #expect(Self.names(groups) == ["42-20260101T000000Z", "1234-20260101T000500Z"])
        #expect(groups[1].inputs.count == 2)
        #expect(groups.allSatisfy { $0.room != nil })
    }

    @Test func sessionsHoursApartAreSeparate() {
        let files = [
            Self.janus("1234", "1001", 0, minutes: 45), Self.janus("1234", "1002", 2, minutes: 40),
            Self.janus("1234", "1001", 180, minutes: 30), Self.janus("1234", "1003", 185, minutes: 20),
        ]
        let groups = BatchGrouping.groups(files.reversed())
        #expect(Self.names(groups) == ["1234-20260101T000000Z", "1234-20260101T030000Z"])
        #expect(groups.map(\.inputs.count) == [2, 2])
        #expect(groups[1].inputs.allSatisfy { !$0.contains("-\(Self.t0)-") })
    }

    @Test func aLateJoinerOfALongMeetingStaysInIt() {
        // Everyone joins at 0 for two hours; a screen share starts 90 minutes in.
        let files = [Self.janus("1234", "1001", 0, minutes: 120), Self.janus("1234", "1002", 0, minutes: 120),
                     Self.janus("1234", "1001-screen", 90, minutes: 5, kind: "video")]
        #expect(BatchGrouping.groups(files).map(\.inputs.count) == [3])
    }

    @Test func theGapIsCountedFromTheLatestEndOfTheSession() {
        // Ends at 10 min; a file 19 minutes later (9 after the end) joins; one 11 minutes after that end does not.
        let joins = [Self.janus("r", "a", 0, minutes: 10), Self.janus("r", "b", 19)]
        #expect(BatchGrouping.groups(joins).count == 1)
        let splits = [Self.janus("r", "a", 0, minutes: 10), Self.janus("r", "b", 21)]
        #expect(BatchGrouping.groups(splits).count == 2)
        // Without an end (unreadable tail) the start counts as the end.
        let unknownEnd = [BatchInputFile(path: "/x/videoroom-r-user-a-\(Self.t0)-audio.mjr"),
                          BatchInputFile(path: "/x/videoroom-r-user-b-\(Self.t0 + 11 * Self.minute)-audio.mjr")]
        #expect(BatchGrouping.groups(unknownEnd).count == 2)
    }

    @Test func stringRoomIdsWithDashes() {
        let files = [Self.janus("lobby-b", "alice-1", 0, kind: "audio-0"), Self.janus("lobby-b", "bob", 0, kind: "video-1"),
                     Self.janus("lobby", "b-2", 0)]
        let groups = BatchGrouping.groups(files)
        #expect(Set(groups.compactMap(\.room)) == ["lobby-b", "lobby"])
        let lobbyB = groups.first { $0.room == "lobby-b" }
        #expect(lobbyB?.name == "lobby-b-20260101T000000Z")
        #expect(lobbyB?.predictedParticipants() == ["alice-1", "bob"])
    }

    @Test func otherFilesMakeOneGroupPerFolder() {
        let files = [
            BatchInputFile(path: "/rec/site-a/call.pcap", startMicros: Self.t0 + 3_600_000_000),
            BatchInputFile(path: "/rec/site-a/more.rtpdump", startMicros: Self.t0 + 3_700_000_000),
            BatchInputFile(path: "/rec/site-b/room.mjr", startMicros: Self.t0),
            BatchInputFile(path: "/rec/demo-20260101T090000Z.capture/alice.pcap"),
            Self.janus("1234", "1001", 0, folder: "/rec/site-a"),
        ]
        let groups = BatchGrouping.groups(files)
        #expect(Self.names(groups) == ["1234-20260101T000000Z", "site-b-20260101T000000Z", "site-a-20260101T010000Z",
                                       "demo-20260101T090000Z"])
        #expect(groups[2].inputs == ["/rec/site-a/call.pcap", "/rec/site-a/more.rtpdump"])
        #expect(groups[2].room == nil && groups[2].predictedParticipants() == nil)
    }

    @Test func namesTwoGroupsWouldShareAreMadeUnique() {
        let files = [Self.janus("a+b", "1", 0), Self.janus("a_b", "1", 0, folder: "/other")]
        let groups = BatchGrouping.groups(files)
        #expect(Set(Self.names(groups)) == ["a_b-20260101T000000Z", "a_b-20260101T000000Z-2"])
    }

    @Test func utcStamps() {
        #expect(BatchGrouping.utcStamp(Self.t0) == "20260101T000000Z")
        #expect(BatchGrouping.utcStamp(1_796_040_000_123_456) == "20261130T120000Z")
        #expect(BatchGrouping.utcStamp(0) == "19700101T000000Z")
    }
}

@Suite struct BatchInputInspectionTests {
    static func frame(_ ms: UInt32, _ length: Int) -> [UInt8] {
        Array("MEET".utf8) + [UInt8(ms >> 24), UInt8(ms >> 16 & 255), UInt8(ms >> 8 & 255), UInt8(ms & 255),
                              UInt8(length >> 8), UInt8(length & 255)] + Array(repeating: 0x11, count: length)
    }

    @Test func lastFrameFromTheTail() {
        let frames = Self.frame(0, 100) + Self.frame(20, 1200) + Self.frame(3_999, 90)
        #expect(MJRTail.lastFrameMillis(tail: frames) == 3_999)
        // Starting mid-frame, as a 64 KiB window does.
        #expect(MJRTail.lastFrameMillis(tail: Array(frames.dropFirst(50))) == 3_999)
        // A last frame cut short by a crash still counts.
        #expect(MJRTail.lastFrameMillis(tail: Array(frames.dropLast(30))) == 3_999)
        // "MEET" inside the last payload that leads nowhere does not.
        var stray = Self.frame(0, 100) + Self.frame(20, 40)
        stray.replaceSubrange(125..<135, with: Array("MEET".utf8) + [0, 0, 0, 9, 0x7F, 0xFF])
        #expect(MJRTail.lastFrameMillis(tail: stray) == 20)
        #expect(MJRTail.lastFrameMillis(tail: Array(repeating: 0, count: 500)) == nil)
    }

    @Test func synthesisedJanusFilesSpanTheirMedia() throws {
        let folder = NSTemporaryDirectory() + "flowrec-batch-inspect-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var options = SynthOptions()
        options.participants = 1
        options.seconds = 3
        _ = try SynthJob.run(options: options, format: .mjr, out: folder)
        _ = FileManager.default.createFile(atPath: folder + "/videoroom-1234-user-1009-\(options.startMicros)-video-1.mjr",
                                       contents: Data("MJR00002".utf8))
        let files = try BatchTranscodeJob.discover([folder])
        #expect(files.count == 3)
        for file in files {
            let empty = file.path.contains("1009")
            #expect(file.hasMedia == !empty, "\(file.path)")
            #expect(file.startMicros == options.startMicros)
            if !empty {
                let seconds = Double((file.endMicros ?? 0) - options.startMicros) / 1e6
                #expect(seconds > 2.8 && seconds < 3.05, "\(file.path): \(seconds)")
            }
        }
        let groups = BatchGrouping.groups(files)
        #expect(groups.count == 1)
        #expect(groups.first?.predictedParticipants() == ["1001"])
    }

    @Test func missingFolderIsAnError() {
        #expect(throws: JobError.self) { try BatchTranscodeJob.discover(["/nonexistent/flowrec-batch"]) }
    }
}

/// The skip check, the pool and the summary, with a stand-in for the transcode.
@Suite struct BatchRunTests {
    static let tracks = PipelineConfig(name: "tracks", composite: nil, tracks: true)
    static let composite = PipelineConfig(name: "audio", composite: CompositeConfig(video: nil, audio: AudioConfig()), tracks: true)

    static func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "flowrec-batch-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func touch(_ path: String, _ date: Date = Date()) {
        _ = FileManager.default.createFile(atPath: path, contents: Data([1]))
        try? FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: path)
    }

    static func group(_ room: String, users: [String], modified: Date = Date(timeIntervalSince1970: 1_000_000)) -> BatchGroup {
        let files = users.map {
            BatchInputFile(path: "/rec/videoroom-\(room)-user-\($0)-\(BatchGroupingTests.t0)-audio.mjr", bytes: 1000, modified: modified)
        }
        return BatchGroup(label: room, room: room, files: files)
    }

    @Test func aGroupIsDoneWhenEveryOutputExistsAndIsNewerThanItsInputs() throws {
        let out = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let group = Self.group("1234", users: ["1001", "1002"])
        let settings = BatchSettings(outDir: out, pipeline: Self.tracks)
        let expected = try #require(BatchTranscodeJob.expectedOutputs(of: group, settings: settings))
        #expect(expected == ["\(out)/1234-20260101T000000Z.1001.webm", "\(out)/1234-20260101T000000Z.1002.webm"])
        #expect(!BatchTranscodeJob.isComplete(group, settings: settings))
        Self.touch(expected[0])
        Self.touch(expected[1] + ".partial")
        #expect(!BatchTranscodeJob.isComplete(group, settings: settings), "a .partial file is not an output")
        Self.touch(expected[1])
        #expect(BatchTranscodeJob.isComplete(group, settings: settings))
        // An input newer than the outputs (the meeting went on, a file was replaced): not done.
        #expect(!BatchTranscodeJob.isComplete(Self.group("1234", users: ["1001", "1002"], modified: Date().addingTimeInterval(60)),
                                              settings: settings))
        // A composite pipeline also needs the composite.
        let withComposite = BatchSettings(outDir: out, pipeline: Self.composite)
        #expect(!BatchTranscodeJob.isComplete(group, settings: withComposite))
        Self.touch("\(out)/1234-20260101T000000Z.webm")
        #expect(BatchTranscodeJob.isComplete(group, settings: withComposite))
        // A participant named by --participant.
        var renamed = settings
        renamed.options.participantByFile[(group.inputs[0] as NSString).lastPathComponent] = "Alice"
        #expect(try #require(BatchTranscodeJob.expectedOutputs(of: group, settings: renamed)).first?.hasSuffix(".Alice.webm") == true)
    }

    @Test func segmentedOutputsAreDoneWhenEachHasSegmentsAndNoneIsPartial() throws {
        let out = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let group = Self.group("1234", users: ["1001", "1002"])
        var pipeline = Self.composite
        pipeline.segmentSeconds = 600
        let settings = BatchSettings(outDir: out, pipeline: pipeline)
        let base = "\(out)/1234-20260101T000000Z"
        // Unsegmented names do not count, nor do names that only look alike.
        for name in [".webm", ".1001.webm", ".1002.webm", ".1001-x-000.webm", "-01.webm"] { Self.touch(base + name) }
        #expect(!BatchTranscodeJob.isComplete(group, settings: settings))
        for name in ["-000.webm", "-001.webm", ".1001-000.webm"] { Self.touch(base + name) }
        Self.touch(base + ".1002-002.webm.partial")
        #expect(!BatchTranscodeJob.isComplete(group, settings: settings), "a participant still being written")
        Self.touch(base + ".1002-002.webm")  // a late joiner's first file
        #expect(!BatchTranscodeJob.isComplete(group, settings: settings), "the .partial of an interrupted run is left")
        try FileManager.default.removeItem(atPath: base + ".1002-002.webm.partial")
        #expect(BatchTranscodeJob.isComplete(group, settings: settings))
        #expect(OutputLocation.existingSegments(of: base + ".webm").finished == [base + "-000.webm", base + "-001.webm"])
    }

    @Test func filesWithoutMediaExpectNoParticipantFile() throws {
        var group = Self.group("1234", users: ["1001", "1002"])
        group.files[1].hasMedia = false
        let settings = BatchSettings(outDir: "/out", pipeline: Self.tracks)
        #expect(BatchTranscodeJob.expectedOutputs(of: group, settings: settings) == ["/out/1234-20260101T000000Z.1001.webm"])
        // A folder group's participants are not known without a scan.
        let folder = BatchGroup(label: "site", room: nil, files: [BatchInputFile(path: "/nonexistent/x.pcap")])
        #expect(BatchTranscodeJob.expectedOutputs(of: folder, settings: settings, scan: false) == nil)
        #expect(BatchTranscodeJob.expectedOutputs(of: folder, settings: settings) == nil)
    }

    /// A stand-in transcode: writes each participant's file, fails for room `bad`, takes `delay`
    /// seconds, and counts how many run at once.
    final class FakeTranscoder: @unchecked Sendable {
        private let lock = NSLock()
        private var running = 0
        private(set) var mostAtOnce = 0
        private(set) var calls: [(inputs: [String], overwrite: Bool)] = []
        let delay: Double

        init(delay: Double = 0) { self.delay = delay }

        func callAsFunction(_ inputs: [String], _ out: OutputLocation, _ overwrite: Bool,
                            _ progress: @escaping @Sendable (JobProgress) -> Void) throws -> TranscodeResult {
            lock.withLock {
                running += 1
                mostAtOnce = max(mostAtOnce, running)
                calls.append((inputs, overwrite))
            }
            defer { lock.withLock { running -= 1 } }
            progress(JobProgress(mediaSeconds: 1, totalSeconds: 2, elapsedSeconds: 0.01))
            Thread.sleep(forTimeInterval: delay)
            if inputs.contains(where: { $0.contains("videoroom-bad-") }) {
                throw JobError("\(inputs[0]): byte 212: expected frame marker \"MEET\", found \"JUNK\"")
            }
            var outputs: [OutputFile] = []
            for input in inputs {
                guard let user = JanusRecordingName(path: input)?.user else { continue }
                _ = FileManager.default.createFile(atPath: out.participantPath(user), contents: Data([1]))
                outputs.append(OutputFile(name: user, path: out.participantPath(user), frames: 1, durationSeconds: 2))
            }
            progress(JobProgress(mediaSeconds: 2, totalSeconds: 2, elapsedSeconds: 0.02))
            let inventory = RoomInventory(inputs: inputs, streams: [], participants: [], firstArrivalMicros: 0, lastArrivalMicros: 0, warnings: [])
            return TranscodeResult(outputs: outputs, warnings: [], stats: [:], composite: nil, inventory: inventory)
        }
    }

    /// Collects progress reports (they arrive one at a time, from the workers).
    final class Reports: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var items: [BatchProgress] = []
        func add(_ p: BatchProgress) { lock.withLock { items.append(p) } }
    }

    @Test func runsSkipsAndKeepsGoingAfterAFailure() throws {
        let out = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let groups = [Self.group("1234", users: ["1001", "1002"]), Self.group("bad", users: ["7"]), Self.group("lobby-b", users: ["9"])]
        let settings = BatchSettings(outDir: out, pipeline: Self.tracks, jobs: 2)
        let fake = FakeTranscoder()
        let reports = Reports()
        let first = BatchTranscodeJob.run(groups: groups, settings: settings, progress: { reports.add($0) }, transcode: { try fake($0, $1, $2, $3) })
        #expect(first.map(\.outcome.word) == ["done", "failed", "done"])
        #expect(first.map(\.group.name) == groups.map(\.name))
        let summary = BatchSummary(first)
        #expect(summary.totalLine == "batch: 2 done, 0 skipped, 1 failed")
        #expect(summary.lines[1] == "bad-20260101T000000Z: failed: /rec/videoroom-bad-user-7-1767225600000000-audio.mjr: byte 212: expected frame marker \"MEET\", found \"JUNK\"")
        #expect(summary.lines[0] == "1234-20260101T000000Z: done")
        // Progress: groups count up to the total, media time never goes back, and ends complete.
        let ends = reports.items.filter { $0.ended != nil }
        #expect(ends.map(\.groupsDone) == [1, 2, 3])
        #expect(reports.items.allSatisfy { $0.groupsTotal == 3 })
        let media = reports.items.compactMap(\.media)
        #expect(zip(media, media.dropFirst()).allSatisfy { $0.mediaSeconds <= $1.mediaSeconds + 1e-9 })
        #expect(media.dropLast().allSatisfy { $0.mediaSeconds < $0.totalSeconds })
        // Two groups of 2 s done, and the second the failed one got through.
        #expect(media.last.map { $0.mediaSeconds == $0.totalSeconds && $0.totalSeconds == 5 } == true)

        // Again: what is done is skipped, the failed group is tried again.
        let second = BatchTranscodeJob.run(groups: groups, settings: settings, transcode: { try fake($0, $1, $2, $3) })
        #expect(second.map(\.outcome.word) == ["skipped", "failed", "skipped"])
        #expect(BatchSummary(second).totalLine == "batch: 0 done, 2 skipped, 1 failed")
        #expect(fake.calls.count == 4)

        // --force makes everything again, replacing the files.
        var forced = settings
        forced.force = true
        let third = BatchTranscodeJob.run(groups: groups, settings: forced, transcode: { try fake($0, $1, $2, $3) })
        #expect(BatchSummary(third).totalLine == "batch: 2 done, 0 skipped, 1 failed")
        #expect(fake.calls.count == 7 && fake.calls.allSatisfy(\.overwrite))
    }

    @Test(arguments: [1, 2, 3])
    func runsUpToJobsGroupsAtOnce(jobs: Int) throws {
        let out = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let groups = (0..<4).map { Self.group("room\($0)", users: ["1"]) }
        let fake = FakeTranscoder(delay: 0.15)
        let results = BatchTranscodeJob.run(groups: groups, settings: BatchSettings(outDir: out, pipeline: Self.tracks, jobs: jobs),
                                            transcode: { try fake($0, $1, $2, $3) })
        #expect(BatchSummary(results).done == 4)
        #expect(fake.mostAtOnce == jobs)
    }

    @Test func summaryCounts() {
        let group = Self.group("1", users: ["a"])
        let results = [BatchGroupResult(group: group, outcome: .done), BatchGroupResult(group: group, outcome: .skipped),
                       BatchGroupResult(group: group, outcome: .skipped), BatchGroupResult(group: group, outcome: .failed(JobError("x\ny")))]
        let summary = BatchSummary(results)
        #expect((summary.done, summary.skipped, summary.failed) == (1, 2, 1))
        #expect(summary.lines == ["1-20260101T000000Z: done", "1-20260101T000000Z: skipped", "1-20260101T000000Z: skipped",
                                  "1-20260101T000000Z: failed: x y"])
        #expect(summary.totalLine == "batch: 1 done, 2 skipped, 1 failed")
        #expect(BatchSummary([]).totalLine == "batch: 0 done, 0 skipped, 0 failed")
    }
}
