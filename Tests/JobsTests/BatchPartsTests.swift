import Capture
import Foundation
@testable import Jobs
import Pipeline
import Testing

/// The sans-IO parts of `transcode --batch`: the batch's progress sum, a Janus file's span from
/// its header, the skip rule over stand-in output files, and the worker pool.
@Suite struct BatchPartsTests {
    static func progress(_ done: Double, of total: Double) -> JobProgress {
        JobProgress(mediaSeconds: done, totalSeconds: total, elapsedSeconds: 0)
    }

    @Test func progressEstimatesGroupsNotStartedFromTheirSize() throws {
        var tally = BatchProgressTally(bytes: [1000, 2000, 500])
        #expect(tally.media(elapsedSeconds: 0) == nil, "no total before a transcode reports one")
        tally.update(0, Self.progress(5, of: 10))
        // 10 s for 1000 bytes: the others are 20 s and 5 s.
        let first = try #require(tally.media(elapsedSeconds: 2))
        #expect(first.mediaSeconds == 5 && abs(first.totalSeconds - 35) < 1e-9 && first.elapsedSeconds == 2)
        tally.end(2, .skipped)
        #expect(try abs(#require(tally.media(elapsedSeconds: 3)).totalSeconds - 30) < 1e-9, "a skipped group counts nothing")
        tally.end(0, .done)
        tally.update(1, Self.progress(25, of: 20))
        let almost = try #require(tally.media(elapsedSeconds: 4))
        #expect(almost.mediaSeconds == 30 && almost.totalSeconds > 30, "not 100% before the last group ends")
        #expect(tally.ended == 2)
    }

    @Test func aFailedGroupCountsWhatItGotThrough() throws {
        var tally = BatchProgressTally(bytes: [100, 100])
        tally.update(0, Self.progress(4, of: 4))
        tally.end(0, .done)
        tally.update(1, Self.progress(3, of: 8))
        tally.end(1, .failed(JobError("x")))
        let last = try #require(tally.media(elapsedSeconds: 1))
        #expect(last.mediaSeconds == 7 && last.totalSeconds == 7)
    }

    static let t0: Int64 = 1_767_225_600_000_000
    static let janusPath = "/rec/videoroom-1234-user-1001-\(t0)-audio.mjr"

    @Test func aTimedJanusFileSpansToItsLastFrame() {
        var file = BatchInputFile(path: Self.janusPath, bytes: 5000)
        // Janus created the recorder 250 ms before the first packet.
        let opus = MJRHeader(kind: .audio, codec: "opus", createdMicros: 1_000, firstPacketMicros: 251_000)
        file.describeJanusMedia(header: opus) { 3_000 }
        #expect(file.hasMedia && file.endMicros == Self.t0 + 250_000 + 3_000_000)

        var h264 = BatchInputFile(path: Self.janusPath, bytes: 5000)
        h264.describeJanusMedia(header: MJRHeader(kind: .video, codec: "h264", createdMicros: 0, firstPacketMicros: 0)) { 40 }
        #expect(!h264.hasMedia && h264.endMicros == Self.t0 + 40_000, "no file of its own, but it still spans its media")

        var noFrames = BatchInputFile(path: Self.janusPath, bytes: 5000)
        noFrames.describeJanusMedia(header: opus) { nil }
        #expect(!noFrames.hasMedia && noFrames.endMicros == nil)
    }

    @Test func legacyJanusFilesAreNotReadForTheirLastFrame() {
        let legacy = MJRHeader(kind: .video, codec: "vp8", createdMicros: 0, firstPacketMicros: 0, isLegacy: true)
        for (bytes, hasMedia) in [(Int64(33), true), (32, false)] {
            var file = BatchInputFile(path: Self.janusPath, bytes: bytes)
            file.describeJanusMedia(header: legacy) { Issue.record("the tail is not read"); return 1 }
            #expect(file.hasMedia == hasMedia && file.endMicros == nil)
        }
    }

    /// Stand-in output files: modification dates by path (nil: date unknown), and which paths were asked about.
    final class Disk: @unchecked Sendable {
        var files: [String: Date?] = [:]
        let asked = Locked<[String]>([])

        var view: BatchOutputFiles {
            let files = files
            return BatchOutputFiles(
                regularFile: { path in
                    self.asked.withLock { $0.append(path) }
                    return files[path].map { BatchOutputFiles.RegularFile(modified: $0) }
                },
                segments: { path in
                    let stem = String(path.dropLast(".webm".count)) + "-"
                    let names = files.keys.filter { $0.hasPrefix(stem) }.sorted()
                    return (names.filter { $0.hasSuffix(".webm") }, names.filter { $0.hasSuffix(".partial") })
                })
        }
    }

    static let inputsModified = Date(timeIntervalSince1970: 1_000_000)

    static func group(users: [String]) -> BatchGroup {
        BatchGroup(label: "1234", room: "1234", files: users.map {
            BatchInputFile(path: "/rec/videoroom-1234-user-\($0)-\(t0)-audio.mjr", modified: inputsModified)
        })
    }

    @Test func theSkipRuleOverStandInFiles() {
        let group = Self.group(users: ["1001", "1002"])
        let pipeline = PipelineConfig(name: "audio", composite: CompositeConfig(video: nil, audio: AudioConfig()), tracks: true)
        let settings = BatchSettings(outDir: "/out", pipeline: pipeline)
        let base = "/out/1234-20260101T000000Z"
        let disk = Disk()
        #expect(!BatchTranscodeJob.isComplete(group, settings: settings, files: disk.view))
        #expect(disk.asked.withLock { $0 } == [base + ".webm"], "the composite is looked at first")
        let newer = Self.inputsModified.addingTimeInterval(1)
        disk.files = [base + ".webm": newer, base + ".1001.webm": newer, base + ".1002.webm": nil]
        #expect(BatchTranscodeJob.isComplete(group, settings: settings, files: disk.view), "an unknown date counts as fresh")
        disk.files[base + ".1001.webm"] = Self.inputsModified.addingTimeInterval(-1)
        #expect(!BatchTranscodeJob.isComplete(group, settings: settings, files: disk.view), "older than an input")

        var segmented = settings
        segmented.pipeline.segmentSeconds = 600
        disk.files = [base + "-000.webm": newer, base + ".1001-000.webm": newer, base + ".1002-000.webm": newer]
        #expect(BatchTranscodeJob.isComplete(group, settings: segmented, files: disk.view))
        disk.files[base + ".1002-001.webm.partial"] = newer
        #expect(!BatchTranscodeJob.isComplete(group, settings: segmented, files: disk.view))
    }

    @Test(arguments: [(0, 2), (1, 4), (7, 3), (5, 1)])
    func thePoolCallsEachIndexOnce(count: Int, width: Int) {
        let calls = Locked<[Int]>([])
        WorkerPool.run(count: count, width: width, name: "flowrec-test") { i in calls.withLock { $0.append(i) } }
        #expect(calls.withLock { $0.sorted() } == Array(0..<count))
    }
}

/// A value behind a lock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
}
