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
    /// The participant's streams that go into its file (known codec, not H.264).
    private let streams: [StreamInfo]
    private let included: Set<StreamKey>
    private let overwrite: Bool
    private var pending: [RoomFrame] = []
    private var writer: WebMWriter?
    private var videoTrack: Int?
    private var audioTrack: Int?
    private var videoCodec: Codec?
    private var clock: ParticipantClock
    private var lastPts: [Int: Int64] = [:]
    private(set) var framesWritten = 0
    private(set) var framesDropped = 0
    private(set) var lastEndMillis: Int64 = 0
    private(set) var warnings: [String] = []

    /// Frames held before the file's tracks are known, at most.
    static let maxPending = 1500
    /// Streams starting this long after the participant's first media do not hold up opening the file.
    static let expectedWithinMicros: Int64 = 2_000_000

    init(participant: ParticipantInfo, inventory: RoomInventory, path: String, overwrite: Bool) {
        name = participant.name
        self.path = path
        let participantStreams = participant.streams.compactMap { inventory.stream($0) }
        streams = participantStreams.filter { $0.codec != nil && $0.codec != .h264 }
        included = Set(streams.map(\.key))
        self.overwrite = overwrite
        if participantStreams.contains(where: { $0.codec == .h264 }) {
            warnings.append("\(participant.name): H.264 video cannot be remuxed into WebM; its file holds "
                + (streams.isEmpty ? "nothing" : "its audio only") + "; use the composite (--pipeline grid-720p) for its video")
        }
        clock = ParticipantClock(originMicros: participantStreams.map(\.firstArrivalMicros).min() ?? 0, streams: participantStreams)
    }

    private var participantStartMicros: Int64 { streams.map(\.firstArrivalMicros).min() ?? 0 }

    func add(_ frame: RoomFrame) throws {
        // Frames of streams that have no track here (H.264 video) are never held.
        guard included.contains(frame.stream) else {
            framesDropped += 1
            return
        }
        if writer != nil { return try write(frame) }
        pending.append(frame)
        let started = Set(pending.map(\.stream))
        let expected = streams.filter { $0.firstArrivalMicros - participantStartMicros <= Self.expectedWithinMicros }.map(\.key)
        if expected.allSatisfy(started.contains) || pending.count >= Self.maxPending {
            try open()
        }
    }

    /// Writes what is still held, then the trailer; renames the file into place.
    func finish() throws -> Bool {
        if writer == nil {
            guard !pending.isEmpty else { return false }
            try open()
        }
        guard let writer else { return false }
        try writer.finish()
        return true
    }

    func abort() { writer?.abort(keepPartial: true) }

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
            return
        }
        var pts = clock.presentationMicros(of: frame, stream: roomFrame.stream) / 1000
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
