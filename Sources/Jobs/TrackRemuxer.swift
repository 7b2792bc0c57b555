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
final class ParticipantRemuxer {
    let name: String
    let path: String
    /// The participant's streams that go into its file (known codec, not H.264), in order of appearance.
    private var streams: [StreamInfo] = []
    private var included: Set<StreamKey> = []
    private var hasH264 = false
    private let overwrite: Bool
    private var pending: [RoomFrame] = []
    private var writer: WebMWriter?
    private var videoTrack: Int?
    private var audioTrack: Int?
    private var videoCodec: Codec?
    private var clock: ParticipantClock?
    private var lastPts: [Int: Int64] = [:]
    private(set) var framesWritten = 0
    private(set) var framesDropped = 0
    /// Video frames of a stream that began after the file was opened without a video track (live only).
    private var framesWithoutTrack = 0
    private(set) var lastEndMillis: Int64 = 0
    private(set) var warnings: [String] = []

    /// Frames held before the file's tracks are known, at most.
    static let maxPending = 1500
    /// Streams starting this long after the participant's first media do not hold up opening the file;
    /// a participant with one kind of media only waits this long for the other before its file opens.
    static let expectedWithinMicros: Int64 = 2_000_000

    /// A participant whose streams come with ``addStream(_:)``; its time 0 is its first stream's first arrival.
    init(name: String, path: String, overwrite: Bool) {
        self.name = name
        self.path = path
        self.overwrite = overwrite
    }

    /// Takes one of the participant's streams (before its first frame).
    func addStream(_ stream: StreamInfo) {
        guard let codec = stream.codec, !included.contains(stream.key) else { return }
        if clock == nil { clock = ParticipantClock(originMicros: stream.firstArrivalMicros, streams: []) }
        clock?.add(stream)
        if codec == .h264 {
            hasH264 = true
            return
        }
        streams.append(stream)
        included.insert(stream.key)
    }

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
        try writer.finish()
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
        writer = try WebMWriter(path: path, tracks: tracks, overwrite: overwrite)
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
        try writer.write(track: track, data: frame.data, ptsMillis: pts, isKeyframe: frame.isKeyframe || frame.codec == .opus,
                         durationMillis: duration)
        framesWritten += 1
        lastEndMillis = max(lastEndMillis, pts + (duration ?? 0))
    }
}
