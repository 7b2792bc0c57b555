import Ingest
import Media
import WebM

/// Writes one WebM per participant holding its VP8/VP9 video and Opus audio as received
/// (no decoding), with presentation times from RTP time, audio and video aligned.
///
/// H.264 video (a Safari participant) cannot go into WebM: such a participant's file holds its audio only,
/// with a warning pointing at the composite, which decodes and re-encodes every participant's video.
///
/// Alignment: a ``ParticipantClock`` whose origin is the participant's first media.
///
/// Segments (`segmentSeconds`): boundaries fall on the room's (``SegmentClock``, offset by when the
/// participant started) and each cut waits for the first video keyframe at or after a boundary
/// (``SegmentCutter``); later files declare no Opus pre-skip, since their first packet continues
/// the stream, and the picture size of the keyframe that starts them.
final class ParticipantRemuxer {
    let name: String
    let path: String
    /// The participant's streams that go into its file (known codec, not H.264), in order of appearance.
    private var streams: [StreamInfo] = []
    private var included: Set<StreamKey> = []
    private var hasH264 = false
    private let overwrite: Bool
    private var pending: [RoomFrame] = []
    private var writer: SegmentedWebMWriter?
    private var tracks: [WebMTrack] = []
    private let segmentSeconds: Int?
    private let roomOriginMicros: Int64
    /// The room's segment boundaries on this participant's timeline (known with its first stream).
    private var segments: SegmentClock?
    private var cutter: SegmentCutter<Outgoing>?
    private var videoTrack: Int?
    private var audioTrack: Int?
    private var videoCodec: Codec?
    private var clock: ParticipantClock?
    private var lastPts: [Int: Int64] = [:]
    private(set) var framesDropped = 0
    /// Video frames of a stream that began after the file was opened without a video track (live only).
    private var framesWithoutTrack = 0
    private(set) var warnings: [String] = []
    /// The files written, in order, once ``finish()`` has returned true.
    private(set) var files: [WebMSegment] = []

    /// A frame on its way into the file, timed on the participant's timeline.
    private struct Outgoing {
        var track: Int
        var frame: EncodedFrame
        var ptsMillis: Int64
        var durationMillis: Int64?
    }

    /// Frames held before the file's tracks are known, at most.
    static let maxPending = 1500
    /// Streams starting this long after the participant's first media do not hold up opening the file;
    /// a participant with one kind of media only waits this long for the other before its file opens.
    static let expectedWithinMicros: Int64 = 2_000_000

    /// A participant whose streams come with ``addStream(_:)``; its time 0 is its first stream's first
    /// arrival. With `segmentSeconds`, its files are cut on the boundaries of a room whose time 0 is
    /// `roomOriginMicros` (capture clock).
    init(name: String, path: String, overwrite: Bool, segmentSeconds: Int? = nil, roomOriginMicros: Int64 = 0) {
        self.name = name
        self.segmentSeconds = segmentSeconds
        self.roomOriginMicros = roomOriginMicros
        self.path = path
        self.overwrite = overwrite
    }

    /// Takes one of the participant's streams (before its first frame).
    func addStream(_ stream: StreamInfo) {
        guard let codec = stream.codec, !included.contains(stream.key) else { return }
        if clock == nil {
            clock = ParticipantClock(originMicros: stream.firstArrivalMicros, streams: [])
            segments = segmentSeconds.map { SegmentClock(seconds: $0, offsetMillis: (stream.firstArrivalMicros - roomOriginMicros) / 1000) }
        }
        clock?.add(stream)
        if codec == .h264 {
            hasH264 = true
            return
        }
        streams.append(stream)
        included.insert(stream.key)
    }

    /// No more frames of `key` will come (its video was rejected): a file not yet opened does not wait
    /// for it, nor declare a track for it when none of its frames is held.
    func dropStream(_ key: StreamKey) {
        guard writer == nil, !pending.contains(where: { $0.stream == key }) else { return }
        streams.removeAll { $0.key == key }
        included.remove(key)
    }

    /// The file waits for a video keyframe to be cut at a segment boundary.
    var awaitsKeyframe: Bool { cutter?.awaitsKeyframe ?? false }

    /// Room time (s) at which the participant's timeline starts.
    var roomOffsetSeconds: Double { Double(segments?.offsetMillis ?? 0) / 1000 }

    /// A Sender Report or arrival mapping of one of its streams (used when that stream's first frame is placed).
    func updateTiming(_ stream: StreamInfo) { clock?.add(stream) }

    private var participantStartMicros: Int64 { clock?.originMicros ?? 0 }

    func add(_ frame: RoomFrame) throws {
        // Frames of streams that have no track here (H.264 video) are never held.
        guard included.contains(frame.stream) else {
            framesDropped += 1
            return
        }
        if writer != nil { return try write(frame) }
        pending.append(frame)
        if readyToOpen(newestArrival: frame.frame.arrivalMicros) { try open() }
    }

    /// Every stream that started early has delivered a frame, and the file has both kinds of media
    /// or has waited long enough for the other kind; or too much is held.
    private func readyToOpen(newestArrival: Int64) -> Bool {
        guard pending.count < Self.maxPending else { return true }
        let started = Set(pending.map(\.stream))
        let expected = streams.filter { $0.firstArrivalMicros - participantStartMicros <= Self.expectedWithinMicros }
        guard expected.allSatisfy({ started.contains($0.key) }) else { return false }
        let kinds = Set(streams.filter { started.contains($0.key) }.compactMap { $0.codec?.kind })
        return kinds.count == 2 || newestArrival - participantStartMicros >= Self.expectedWithinMicros
    }

    /// Writes what is still held, then the trailer; renames the file into place.
    func finish() throws -> Bool {
        if hasH264 {
            warnings.append("\(name): H.264 video cannot be remuxed into WebM; its file holds "
                + (streams.isEmpty ? "nothing" : "its audio only") + "; use the composite (--pipeline grid-720p) for its video")
        }
        if writer == nil {
            guard !pending.isEmpty else { return false }
            try open()
        }
        guard let writer else { return false }
        if framesWithoutTrack > 0 {
            warnings.append("\(name): its video began after its file was opened with audio only: \(framesWithoutTrack) video frames are in the composite only")
        }
        if cutter != nil {
            for step in cutter!.drain() { try perform(step, of: nil) }
        }
        files = try writer.finish()
        return true
    }

    func abort(keepPartial: Bool) { writer?.abort(keepPartial: keepPartial) }

    private func open() throws {
        var tracks: [WebMTrack] = []
        if let video = streams.first(where: { $0.codec?.kind == .video }) {
            videoCodec = video.codec
            let keyframe = pending.first { $0.frame.codec.kind == .video && $0.frame.width != nil }?.frame
            if keyframe == nil { warnings.append("\(name): picture size unknown when the file was opened; track header says 640x360") }
            videoTrack = tracks.count
            tracks.append(.video(codec: video.codec!, width: keyframe?.width ?? 640, height: keyframe?.height ?? 360))
        }
        if streams.contains(where: { $0.codec == .opus }) {
            let first = pending.first { $0.frame.codec == .opus }?.frame
            audioTrack = tracks.count
            tracks.append(.audio(codec: .opus, sampleRate: 48_000, channels: first.map { OpusPacketInfo.isStereo($0.data) } == true ? 2 : 1, preSkip: 312))
        }
        guard !tracks.isEmpty else { return }
        self.tracks = tracks
        let first = segments?.index(atMillis: 0)
        writer = try SegmentedWebMWriter(path: path, tracks: tracks, segment: first, overwrite: overwrite)
        cutter = segments.map { SegmentCutter(clock: $0, hasVideo: videoTrack != nil) }
        let held = pending
        pending = []
        for frame in held { try write(frame) }
    }

    private func write(_ roomFrame: RoomFrame) throws {
        let frame = roomFrame.frame
        let track: Int?
        switch frame.codec {
        case .opus: track = audioTrack
        case videoCodec: track = videoTrack
        default: track = nil
        }
        guard let track, let writer else {
            framesDropped += 1
            if frame.codec.kind == .video, videoTrack == nil { framesWithoutTrack += 1 }
            return
        }
        guard var pts = clock?.presentationMicros(of: frame, stream: roomFrame.stream) else { return }
        pts /= 1000
        if let last = lastPts[track], pts <= last {
            // Audio that goes back in time is a duplicate or a sender restart: drop it; video nudges forward.
            if frame.codec == .opus {
                framesDropped += 1
                return
            }
            pts = last + 1
        }
        guard pts >= 0 else {
            framesDropped += 1
            return
        }
        lastPts[track] = pts
        var duration: Int64?
        if frame.codec == .opus, let samples = OpusPacketInfo.sampleCount(frame.data) { duration = Int64(samples / 48) }
        let outgoing = Outgoing(track: track, frame: frame, ptsMillis: pts, durationMillis: duration)
        guard cutter != nil else { return try put(outgoing, into: writer) }
        let isVideo = track == videoTrack
        for step in cutter!.add(outgoing, atMillis: pts, isVideo: isVideo, isKeyframe: isVideo && frame.isKeyframe) {
            try perform(step, of: frame)
        }
    }

    /// Carries out a cutter's step; `frame` is the frame just added (its keyframe gives a new segment's picture size).
    private func perform(_ step: SegmentCutter<Outgoing>.Step, of frame: EncodedFrame?) throws {
        guard let writer else { return }
        switch step {
        case .write(let outgoing):
            try put(outgoing, into: writer)
        case .cut(let index, let start):
            let keyframe = frame.flatMap { $0.codec.kind == .video && $0.isKeyframe ? $0 : nil }
            tracks = tracks.map { track in
                switch track {
                case let .video(codec, width, height):
                    return .video(codec: codec, width: keyframe?.width ?? width, height: keyframe?.height ?? height)
                case let .audio(codec, rate, channels, _):
                    return .audio(codec: codec, sampleRate: rate, channels: channels, preSkip: 0)
                }
            }
            try writer.startSegment(index: index, atMillis: start, tracks: tracks)
        }
    }

    private func put(_ outgoing: Outgoing, into writer: SegmentedWebMWriter) throws {
        let frame = outgoing.frame
        try writer.write(track: outgoing.track, data: frame.data, ptsMillis: outgoing.ptsMillis,
                         isKeyframe: frame.isKeyframe || frame.codec == .opus, durationMillis: outgoing.durationMillis)
    }
}
