/// One file a ``SegmentedWebMWriter`` finished.
public struct WebMSegment: Sendable, Equatable {
    /// The segment's number (in its name); nil for the single file of an unsegmented writer.
    public var index: Int?
    public var path: String
    /// Where the segment starts on the writer's timeline (ms); its own timestamps start at 0 there.
    public var startMillis: Int64
    /// Frames written into it (a tail packet, see ``SegmentedWebMWriter/writeTail(track:data:ptsMillis:discardPaddingSamples:)``, not counted).
    public var frames: Int
    /// The end of its last frame (pts + the duration given), from its start (ms).
    public var endMillis: Int64
}

/// WebM output cut into consecutive files (`--segment`), or one file when unsegmented.
///
/// Callers write on one timeline (ms); each segment's timestamps restart at 0 at its start.
/// ``startSegment(index:atMillis:tracks:)`` opens the next file at a time the caller chose (a
/// boundary, or a keyframe after it) and keeps the previous one open for frames timed before that
/// start that are still to come (another track, or frames that arrive late); the previous file is
/// finished as soon as every one of its tracks has written a frame into the new one, or at the
/// next cut or ``finish()``.
///
/// Names: `<stem>-NNN.webm` for `<stem>.webm` (three digits, more past 999). Each file is written
/// as `.partial` and renamed when finished, so only finished segments carry their final names.
public final class SegmentedWebMWriter {
    private struct OpenFile {
        let writer: WebMWriter
        let index: Int?
        let startMillis: Int64
        var frames = 0
        var endMillis: Int64 = 0
        /// Tracks that have not yet written into the file after this one.
        var waiting: Set<Int>

        var segment: WebMSegment {
            WebMSegment(index: index, path: writer.path, startMillis: startMillis, frames: frames, endMillis: endMillis)
        }
    }

    /// The path of the unsegmented file; segments are named from it.
    public let path: String
    private let overwrite: Bool
    private var tracks: [WebMTrack]
    private var current: OpenFile?
    private var previous: OpenFile?
    /// Segments finished so far, in order.
    public private(set) var finished: [WebMSegment] = []

    /// Opens the first file: `path` itself when `segment` is nil, else segment `segment` starting at `startMillis`.
    public init(path: String, tracks: [WebMTrack], segment: Int?, startMillis: Int64 = 0, overwrite: Bool) throws(WebMError) {
        self.path = path
        self.tracks = tracks
        self.overwrite = overwrite
        current = try open(index: segment, startMillis: startMillis)
    }

    /// The `index`-th segment's file for `path`: `a.webm` → `a-007.webm`.
    public static func segmentPath(_ path: String, index: Int) -> String {
        let number = index < 1000 ? String("00\(index)".suffix(3)) : String(index)
        guard path.lowercased().hasSuffix(".webm") else { return path + "-" + number }
        return String(path.dropLast(5)) + "-" + number + String(path.suffix(5))
    }

    /// The segment being written (nil when unsegmented).
    public var currentIndex: Int? { current?.index }

    /// Finishes the previous file if still open, keeps the current one open for late frames, and
    /// opens segment `index` starting at `atMillis` (with `tracks` when the headers change, e.g. a new picture size).
    public func startSegment(index: Int, atMillis start: Int64, tracks newTracks: [WebMTrack]? = nil) throws(WebMError) {
        guard let ending = current, let currentIndex = ending.index, index > currentIndex else {
            throw WebMError(path: path, reason: "segment \(index) cannot follow \(current?.index.map(String.init) ?? "an unsegmented file")")
        }
        try finishPrevious()
        if let newTracks { tracks = newTracks }
        previous = ending
        current = try open(index: index, startMillis: start)
    }

    /// Writes a frame timed `ptsMillis` on the writer's timeline: into the previous file when it is
    /// still open and the frame comes before the current segment's start, otherwise into the current one.
    public func write(track: Int, data: [UInt8], ptsMillis: Int64, isKeyframe: Bool, durationMillis: Int64? = nil) throws(WebMError) {
        guard var file = current else { throw WebMError(path: path, reason: "write after the writer was finished") }
        if var old = previous, ptsMillis < file.startMillis {
            try put(&old, track: track, data: data, ptsMillis: ptsMillis, isKeyframe: isKeyframe, durationMillis: durationMillis)
            previous = old
            return
        }
        try put(&file, track: track, data: data, ptsMillis: ptsMillis, isKeyframe: isKeyframe, durationMillis: durationMillis)
        current = file
        if var old = previous, old.waiting.remove(track) != nil {
            previous = old
            if old.waiting.isEmpty { try finishPrevious() }
        }
    }

    /// Ends the previous file's audio `track` with `data`, timed `ptsMillis`, of which only the first
    /// samples play (`discardPaddingSamples` are cut off its end): an encoder's last samples, held
    /// in its lookahead, come out in a packet that begins where the next file begins. Not counted as a
    /// frame; does nothing when no previous file is open.
    public func writeTail(track: Int, data: [UInt8], ptsMillis: Int64, discardPaddingSamples: Int) throws(WebMError) {
        guard let old = previous else { return }
        try old.writer.write(track: track, data: data, ptsMillis: ptsMillis - old.startMillis, isKeyframe: true, durationMillis: 0,
                             discardPaddingSamples: discardPaddingSamples)
    }

    /// Finishes every open file; returns all the segments, in order.
    public func finish() throws(WebMError) -> [WebMSegment] {
        try finishPrevious()
        if let file = current {
            current = nil
            try file.writer.finish()
            finished.append(file.segment)
        }
        return finished
    }

    /// Closes the open files and keeps them as `.partial`, or removes them unless `keepPartial`
    /// (finished segments stay as they are).
    public func abort(keepPartial: Bool = true) {
        previous?.writer.abort(keepPartial: keepPartial)
        current?.writer.abort(keepPartial: keepPartial)
        previous = nil
        current = nil
    }

    private func open(index: Int?, startMillis: Int64) throws(WebMError) -> OpenFile {
        let file = index.map { Self.segmentPath(path, index: $0) } ?? path
        let writer = try WebMWriter(path: file, tracks: tracks, overwrite: overwrite)
        return OpenFile(writer: writer, index: index, startMillis: startMillis, waiting: Set(tracks.indices))
    }

    private func put(_ file: inout OpenFile, track: Int, data: [UInt8], ptsMillis: Int64, isKeyframe: Bool,
                     durationMillis: Int64?) throws(WebMError) {
        let pts = max(0, ptsMillis - file.startMillis)
        try file.writer.write(track: track, data: data, ptsMillis: pts, isKeyframe: isKeyframe, durationMillis: durationMillis)
        file.frames += 1
        file.endMillis = max(file.endMillis, pts + (durationMillis ?? 0))
    }

    private func finishPrevious() throws(WebMError) {
        guard let old = previous else { return }
        previous = nil
        try old.writer.finish()
        finished.append(old.segment)
    }
}
