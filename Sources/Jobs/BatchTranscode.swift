import Capture
import Foundation
import Ingest
import Media
import Pipeline

/// `flowrec transcode --batch DIR... --out OUTDIR`: finds every capture file below the folders,
/// groups Janus `.mjr` recordings by room and session, and runs ``TranscodeJob`` once per group.
///
/// Grouping rule:
/// - Files named `videoroom-<room>-user-<id>-<µs>-<kind>[-<mindex>].mjr` are grouped by room; within
///   a room, each file spans from the start in its name to its last frame (read from the file's
///   tail). Sorted by start, a file joins the current session when it starts at most
///   ``BatchGrouping/sessionGapMicros`` (10 minutes) after the latest end seen so far in that
///   session; otherwise it starts a new session. A whole meeting stays together however late
///   someone joins, and meetings more than 10 minutes apart are separate.
/// - Every other capture file (pcap, pcapng, rtpdump, `.mjr` not named by the videoroom) makes one
///   group per folder, named after the folder.
/// - A group writes `OUTDIR/<room>-<UTC start, yyyyMMdd'T'HHmmss'Z'>.webm` (and, with tracks,
///   `.<participant>.webm` beside it); a name two groups would share gets `-2`, `-3`, ….
public enum BatchGrouping {
    /// Files of one room starting within this of the session's latest media are the same session.
    public static let sessionGapMicros: Int64 = 10 * 60 * 1_000_000

    /// Groups `files`, in order of start time (then name).
    public static func groups(_ files: [BatchInputFile], gapMicros: Int64 = sessionGapMicros) -> [BatchGroup] {
        var byRoom: [String: [BatchInputFile]] = [:]
        var byFolder: [String: [BatchInputFile]] = [:]
        for file in files {
            if let janus = file.janus {
                byRoom[janus.room, default: []].append(file)
            } else {
                byFolder[(file.path as NSString).deletingLastPathComponent, default: []].append(file)
            }
        }
        var groups: [BatchGroup] = []
        for (room, roomFiles) in byRoom {
            let sorted = roomFiles.sorted { ($0.startMicros ?? 0, $0.path) < ($1.startMicros ?? 0, $1.path) }
            var session: [BatchInputFile] = []
            var sessionEnd = Int64.min
            for file in sorted {
                let start = file.startMicros ?? 0
                if !session.isEmpty && start > sessionEnd &+ gapMicros {
                    groups.append(BatchGroup(label: room, room: room, files: session))
                    session = []
                }
                session.append(file)
                sessionEnd = session.count == 1 ? file.spanEndMicros : max(sessionEnd, file.spanEndMicros)
            }
            if !session.isEmpty { groups.append(BatchGroup(label: room, room: room, files: session)) }
        }
        for (folder, folderFiles) in byFolder {
            var label = (folder as NSString).lastPathComponent
            // flowrec's own live captures: `<base>.capture/` is the recording `<base>`.
            if label.hasSuffix(".capture") && label.count > ".capture".count { label = String(label.dropLast(".capture".count)) }
            if label.isEmpty || label == "." || label == "/" { label = "captures" }
            groups.append(BatchGroup(label: label, room: nil, files: folderFiles.sorted { $0.path < $1.path }))
        }
        groups.sort { ($0.startMicros ?? Int64.max, $0.name, $0.inputs.first ?? "") < ($1.startMicros ?? Int64.max, $1.name, $1.inputs.first ?? "") }
        // Two groups must never write the same files.
        var used: [String: Int] = [:]
        for i in groups.indices {
            let base = groups[i].name
            if let count = used[base] {
                var n = count + 1
                while used["\(base)-\(n)"] != nil { n += 1 }
                used[base] = n
                groups[i].name = "\(base)-\(n)"
                used[groups[i].name] = 1
            } else {
                used[base] = 1
            }
        }
        return groups
    }

    /// `yyyyMMdd'T'HHmmss'Z'` of a Unix time in µs.
    public static func utcStamp(_ micros: Int64) -> String {
        var seconds = time_t(micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }
}

/// One capture file found below the batch folders, with what grouping and the skip check need.
public struct BatchInputFile: Sendable, Equatable {
    public var path: String
    /// The Janus videoroom name's parts; nil for other files.
    public var janus: JanusRecordingName?
    /// Unix µs: the start in a Janus name, else the first packet's time; nil when unknown.
    public var startMicros: Int64?
    /// Unix µs of the file's last frame, when known.
    public var endMicros: Int64?
    /// For Janus files: whether the file can give its participant a file of its own (Opus audio
    /// or VP8/VP9 video with at least one frame). Unknown (an unreadable header) counts as true.
    public var hasMedia: Bool
    public var bytes: Int64
    public var modified: Date?

    public init(path: String, startMicros: Int64? = nil, endMicros: Int64? = nil, hasMedia: Bool = true,
                bytes: Int64 = 0, modified: Date? = nil) {
        self.path = path
        janus = JanusRecordingName(path: path)
        self.startMicros = startMicros ?? janus?.startMicros
        self.endMicros = endMicros
        self.hasMedia = hasMedia
        self.bytes = bytes
        self.modified = modified
    }

    /// The end of the file's span for session chaining (its start when the end is unknown).
    var spanEndMicros: Int64 { max(endMicros ?? startMicros ?? 0, startMicros ?? 0) }

    /// Reads what grouping needs: for Janus files the info header and the last frame's time
    /// (from the file's tail; the rest of the file is not read); for others the first packet.
    /// Never throws: a file that cannot be read here fails later, in its group's transcode.
    public static func inspect(path: String) -> BatchInputFile {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let bytes = (attributes?[.size] as? NSNumber)?.int64Value ?? 0
        let modified = attributes?[.modificationDate] as? Date
        var file = BatchInputFile(path: path, bytes: bytes, modified: modified)
        if let janus = file.janus {
            guard let reader = try? MJRReader(path: path) else { return file }
            reader.close()
            let header = reader.header
            let codec = Codec(encodingName: header.codec)
            let mediaCodec = header.kind == .audio ? codec == .opus : header.kind == .video && (codec == .vp8 || codec == .vp9)
            if header.isLegacy {
                file.hasMedia = mediaCodec && bytes > 32
                return file
            }
            let lastMillis = MJRTail.lastFrameMillis(path: path, size: bytes)
            file.hasMedia = mediaCodec && lastMillis != nil
            if let lastMillis {
                // The name's start is when Janus created the recorder; frames count from the first packet.
                let firstPacketDelay = max(0, header.firstPacketMicros - header.createdMicros)
                file.endMicros = janus.startMicros + firstPacketDelay + lastMillis * 1000
            }
        } else if let reader = try? openCaptureReader(path: path) {
            if let first = try? reader.next() { file.startMicros = first.arrivalMicros }
        }
        return file
    }
}

/// Finds the last MJR00002 frame of a file from its tail: `MEET` + u32 ms + u16 length + data.
enum MJRTail {
    static let window: Int64 = 64 * 1024

    /// The last frame's time (ms after the first packet), or nil when none is found.
    static func lastFrameMillis(path: String, size: Int64) -> Int64? {
        guard size > 18, let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let start = max(0, size - window)
        guard (try? handle.seek(toOffset: UInt64(start))) != nil, let data = try? handle.readToEnd() else { return nil }
        return lastFrameMillis(tail: [UInt8](data))
    }

    /// A frame header counts when its frame ends exactly at the end of the data, or where another
    /// frame header starts (so a truncated last frame still counts, and stray `MEET` bytes in a
    /// payload almost never do).
    static func lastFrameMillis(tail: [UInt8]) -> Int64? {
        let n = tail.count
        guard n >= 10 else { return nil }
        var candidates: [Int] = []
        var p = 0
        while p + 10 <= n {
            if tail[p] == 0x4D, tail[p + 1] == 0x45, tail[p + 2] == 0x45, tail[p + 3] == 0x54 { candidates.append(p) }
            p += 1
        }
        let starts = Set(candidates)
        for p in candidates.reversed() {
            let length = Int(tail[p + 8]) << 8 | Int(tail[p + 9])
            let next = p + 10 + length
            let truncatedLast = next > n && p == candidates.last && length <= 9008
            if length > 0 && (next == n || starts.contains(next) || truncatedLast) {
                return Int64(UInt32(tail[p + 4]) << 24 | UInt32(tail[p + 5]) << 16 | UInt32(tail[p + 6]) << 8 | UInt32(tail[p + 7]))
            }
        }
        return nil
    }
}

/// A set of inputs transcoded together into one set of outputs.
public struct BatchGroup: Sendable, Equatable {
    /// The output base name, `<room>-<UTC start>` (or `<folder>-<UTC start>`), safe as a file name.
    public var name: String
    /// The Janus room; nil for a folder of other captures.
    public var room: String?
    public var files: [BatchInputFile]

    public init(label: String, room: String?, files: [BatchInputFile]) {
        self.room = room
        self.files = files
        let start = files.compactMap(\.startMicros).min()
        name = safeFileName(label) + (start.map { "-" + BatchGrouping.utcStamp($0) } ?? "")
    }

    public var inputs: [String] { files.map(\.path) }
    public var startMicros: Int64? { files.compactMap(\.startMicros).min() }
    public var bytes: Int64 { files.reduce(0) { $0 + $1.bytes } }
    public var newestInput: Date? { files.compactMap(\.modified).max() }

    /// Where the group's outputs go: `OUTDIR/<name>.webm`, participants beside it.
    public func location(outDir: String) -> OutputLocation {
        OutputLocation(droppingTrailingSlash(outDir) + "/" + name + ".webm")
    }

    /// The participants that get a file of their own, known from the file names alone (Janus
    /// groups: named as the transcode names them); nil for folder groups.
    public func predictedParticipants(options: IngestOptions = IngestOptions()) -> [String]? {
        guard room != nil else { return nil }
        var names: [String] = []
        for file in files where file.hasMedia {
            guard let janus = file.janus else { continue }
            let base = (file.path as NSString).lastPathComponent
            let name = safeFileName(options.participantByFile[file.path] ?? options.participantByFile[base] ?? janus.user)
            if !names.contains(name) { names.append(name) }
        }
        return names
    }
}

/// How one group ended.
public enum BatchOutcome: Sendable {
    case done
    case skipped
    case failed(any Error)

    public var word: String {
        switch self {
        case .done: return "done"
        case .skipped: return "skipped"
        case .failed: return "failed"
        }
    }
}

public struct BatchGroupResult: Sendable {
    public var group: BatchGroup
    public var outcome: BatchOutcome
    public var outputs: [OutputFile] = []
    public var warnings: [String] = []

    public init(group: BatchGroup, outcome: BatchOutcome, outputs: [OutputFile] = [], warnings: [String] = []) {
        self.group = group
        self.outcome = outcome
        self.outputs = outputs
        self.warnings = warnings
    }

    /// `<name>: done`, `<name>: skipped` or `<name>: failed: <reason>` (one line).
    public var line: String {
        if case .failed(let error) = outcome {
            return "\(group.name): failed: " + "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
        }
        return "\(group.name): \(outcome.word)"
    }
}

/// The end-of-batch report: a line per group and the counts.
public struct BatchSummary: Sendable, Equatable {
    public var done = 0
    public var skipped = 0
    public var failed = 0
    public var lines: [String] = []

    public init(_ results: [BatchGroupResult]) {
        for result in results {
            switch result.outcome {
            case .done: done += 1
            case .skipped: skipped += 1
            case .failed: failed += 1
            }
            lines.append(result.line)
        }
    }

    public var totalLine: String { "batch: \(done) done, \(skipped) skipped, \(failed) failed" }
}

/// The batch's progress: groups ended, and media time over the groups being transcoded.
public struct BatchProgress: Sendable {
    public var groupsDone: Int
    public var groupsTotal: Int
    /// Media seconds done of the estimated total, summed over groups (nil until a total is known).
    /// Groups not started yet are estimated from their size at the bytes per second seen so far.
    public var media: JobProgress?
    /// Set when this report announces that a group ended.
    public var ended: BatchGroupResult?
}

/// What a batch run is asked to do.
public struct BatchSettings: Sendable {
    public var outDir: String
    public var pipeline: PipelineConfig
    public var options: IngestOptions
    /// Make every group again, replacing its files.
    public var force: Bool
    /// Groups transcoded at once.
    public var jobs: Int

    public init(outDir: String, pipeline: PipelineConfig, options: IngestOptions = IngestOptions(), force: Bool = false, jobs: Int = 1) {
        self.outDir = outDir
        self.pipeline = pipeline
        self.options = options
        self.force = force
        self.jobs = jobs
    }
}

public enum BatchTranscodeJob {
    /// Runs one group's transcode: inputs, where, overwrite, progress.
    public typealias Transcoder = @Sendable ([String], OutputLocation, Bool, @escaping @Sendable (JobProgress) -> Void) throws -> TranscodeResult

    /// Every capture file below `dirs` (recursively; hidden entries and symlinked folders are
    /// skipped), inspected for grouping. A path that is a file is taken as it is.
    public static func discover(_ dirs: [String]) throws -> [BatchInputFile] {
        var paths: [String] = []
        var seen = Set<String>()
        func add(_ path: String) {
            let key = (path as NSString).standardizingPath
            if seen.insert(key).inserted { paths.append(path) }
        }
        func walk(_ folder: String) throws {
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted() } catch {
                throw JobError("\(folder): cannot list the folder: \(error.localizedDescription)")
            }
            for name in names where !name.hasPrefix(".") {
                let path = folder == "/" ? "/" + name : folder + "/" + name
                var st = stat()
                guard lstat(path, &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR: try walk(path)
                case S_IFREG, S_IFLNK:
                    // A symlink counts when it points to a file (a linked folder could make a loop).
                    if (st.st_mode & S_IFMT) == S_IFLNK {
                        var target = stat()
                        guard stat(path, &target) == 0, (target.st_mode & S_IFMT) == S_IFREG else { continue }
                    }
                    if captureFileExtensions.contains((name as NSString).pathExtension.lowercased()) { add(path) }
                default: continue
                }
            }
        }
        for dir in dirs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) else {
                throw JobError("\(dir): no such file or folder")
            }
            if isDirectory.boolValue {
                try walk(droppingTrailingSlash(dir))
            } else {
                add(dir)
            }
        }
        return paths.map { BatchInputFile.inspect(path: $0) }
    }

    /// The files a group writes, when they can be known before transcoding it: the composite
    /// (if the pipeline makes one) and, with tracks, one per participant — named from the Janus
    /// file names, or for folder groups from a scan of the inputs (only done when `scan` is true).
    public static func expectedOutputs(of group: BatchGroup, settings: BatchSettings, scan: Bool = true) -> [String]? {
        let location = group.location(outDir: settings.outDir)
        var paths: [String] = []
        if settings.pipeline.composite != nil { paths.append(location.compositePath) }
        if settings.pipeline.tracks {
            var names = group.predictedParticipants(options: settings.options)
            if names == nil, scan, let inventory = try? RoomScanner.scan(paths: group.inputs, options: settings.options) {
                let remuxable: Set<Codec> = [.opus, .vp8, .vp9]
                names = inventory.participants.filter { participant in
                    participant.streams.contains { inventory.stream($0)?.codec.map(remuxable.contains) ?? false }
                }.map(\.name)
            }
            guard let names else { return nil }
            paths += names.map(location.participantPath)
        }
        return paths
    }

    /// True when the group need not be made again: every output it writes exists under its final
    /// name (not `.partial`) and is no older than the group's newest input. Segmented outputs:
    /// at least one segment of each, all fresh, none still `.partial`.
    public static func isComplete(_ group: BatchGroup, settings: BatchSettings) -> Bool {
        let newest = group.newestInput
        func freshFile(_ path: String) -> Bool {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                  attributes[.type] as? FileAttributeType == .typeRegular else { return false }
            guard let newest, let modified = attributes[.modificationDate] as? Date else { return true }
            return modified >= newest
        }
        func fresh(_ path: String) -> Bool {
            guard settings.pipeline.segmentSeconds != nil else { return freshFile(path) }
            let segments = OutputLocation.existingSegments(of: path)
            return !segments.finished.isEmpty && segments.partial.isEmpty && segments.finished.allSatisfy(freshFile)
        }
        // The composite first: a folder group is only scanned when that much is done already.
        if settings.pipeline.composite != nil && !fresh(group.location(outDir: settings.outDir).compositePath) { return false }
        guard let outputs = expectedOutputs(of: group, settings: settings), !outputs.isEmpty else { return false }
        return outputs.allSatisfy(fresh)
    }

    /// Transcodes `groups`, up to `settings.jobs` at once, each with ``TranscodeJob/run`` on a
    /// thread of its own; a failed group does not stop the others. Results are in group order.
    /// `progress` is called from the workers, one call at a time.
    public static func run(groups: [BatchGroup], settings: BatchSettings, progress: (@Sendable (BatchProgress) -> Void)? = nil,
                           transcode: Transcoder? = nil) -> [BatchGroupResult] {
        let pipeline = settings.pipeline
        let options = settings.options
        let transcode = transcode ?? { inputs, out, overwrite, report in
            try TranscodeJob.run(inputs: inputs, out: out, pipeline: pipeline, options: options, overwrite: overwrite, progress: report)
        }
        let tracker = BatchTracker(groups: groups, sink: progress)
        let work = WorkList(count: groups.count)
        let finished = DispatchGroup()
        for worker in 0..<min(max(1, settings.jobs), groups.count) {
            finished.enter()
            let thread = Thread {
                while let i = work.take() {
                    tracker.end(i, process(groups[i], index: i, settings: settings, tracker: tracker, transcode: transcode))
                }
                finished.leave()
            }
            thread.name = "flowrec-batch-\(worker)"
            thread.stackSize = 8 << 20
            thread.start()
        }
        finished.wait()
        return tracker.results()
    }

    private static func process(_ group: BatchGroup, index: Int, settings: BatchSettings, tracker: BatchTracker,
                                transcode: Transcoder) -> BatchGroupResult {
        if !settings.force && isComplete(group, settings: settings) { return BatchGroupResult(group: group, outcome: .skipped) }
        do {
            // What exists of an incomplete or outdated group is this batch's own earlier output: replaced.
            let result = try transcode(group.inputs, group.location(outDir: settings.outDir), true) { tracker.update(index, $0) }
            return BatchGroupResult(group: group, outcome: .done, outputs: result.outputs, warnings: result.warnings)
        } catch {
            return BatchGroupResult(group: group, outcome: .failed(error))
        }
    }
}

/// Hands out group indices to the workers.
private final class WorkList: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private let count: Int

    init(count: Int) { self.count = count }

    func take() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < count else { return nil }
        next += 1
        return next - 1
    }
}

/// Collects results and sums the groups' progress into one report, under a lock (so the sink is
/// never called twice at once).
private final class BatchTracker: @unchecked Sendable {
    private let lock = NSLock()
    private let started = ContinuousClock.now
    private let sink: (@Sendable (BatchProgress) -> Void)?
    private let bytes: [Int64]
    /// Per group: media seconds in total (nil until its transcode reports it) and done.
    private var totals: [Double?]
    private var positions: [Double]
    /// Groups whose size no longer estimates anything: skipped or ended.
    private var settled: [Bool]
    private var slots: [BatchGroupResult?]
    private var ended = 0

    init(groups: [BatchGroup], sink: (@Sendable (BatchProgress) -> Void)?) {
        self.sink = sink
        bytes = groups.map(\.bytes)
        totals = Array(repeating: nil, count: groups.count)
        positions = Array(repeating: 0, count: groups.count)
        settled = Array(repeating: false, count: groups.count)
        slots = Array(repeating: nil, count: groups.count)
    }

    func update(_ i: Int, _ p: JobProgress) {
        lock.lock()
        defer { lock.unlock() }
        totals[i] = p.totalSeconds
        positions[i] = min(p.mediaSeconds, p.totalSeconds)
        emit(nil)
    }

    func end(_ i: Int, _ result: BatchGroupResult) {
        lock.lock()
        defer { lock.unlock() }
        switch result.outcome {
        case .skipped:
            totals[i] = 0
            positions[i] = 0
        case .done:
            positions[i] = totals[i] ?? 0
            totals[i] = positions[i]
        case .failed:
            totals[i] = positions[i]  // what was worked through counts, the rest is not to be done
        }
        settled[i] = true
        slots[i] = result
        ended += 1
        emit(result)
    }

    func results() -> [BatchGroupResult] {
        lock.lock()
        defer { lock.unlock() }
        return slots.map { $0! }
    }

    private func emit(_ endedResult: BatchGroupResult?) {
        guard let sink else { return }
        let all = ended == slots.count
        var knownSeconds = 0.0, knownBytes: Int64 = 0, unknownBytes: Int64 = 0
        for i in totals.indices {
            if let total = totals[i] {
                knownSeconds += total
                if total > 0 { knownBytes += bytes[i] }
            } else if !settled[i] {
                unknownBytes += bytes[i]
            }
        }
        // Groups not started yet: their size at the seconds per byte seen so far.
        let estimate = knownBytes > 0 ? knownSeconds / Double(knownBytes) * Double(unknownBytes) : 0
        var total = knownSeconds + estimate
        var media: JobProgress?
        if total > 0 {
            let done = positions.reduce(0, +)
            // Never 100% before the last group has ended.
            if !all && done >= total { total = done + 0.001 }
            media = JobProgress(mediaSeconds: all ? total : done, totalSeconds: total, elapsedSeconds: (ContinuousClock.now - started).seconds)
        }
        sink(BatchProgress(groupsDone: ended, groupsTotal: slots.count, media: media, ended: endedResult))
    }
}
