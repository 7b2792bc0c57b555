import AudioMix
import Ingest
import Media
import VideoCompose
import WebM

/// What the composite pipeline counted.
public struct CompositeStats: Sendable, Equatable {
    public var audioBlocks = 0
    public var videoFrames = 0
    /// Frames that would not decode (skipped; the tile holds its last picture until the next keyframe).
    public var decodeErrors = 0
    /// Audio frames or video frames that arrived after their time had already been written.
    public var lateFrames = 0
    public var durationSeconds = 0.0
    /// Seconds spent mixing and composing (the rest is decoding, encoding and muxing).
    public var mixSeconds = 0.0
    public var composeSeconds = 0.0

    public init() {}
}

/// Turns a room's frames, fed in arrival order, into one composite WebM: every participant's
/// audio decoded onto the room's sample clock and mixed, every participant's video decoded and
/// tiled on a canvas by the layout, both encoded and muxed.
///
/// Timing: room time 0 is the room's first media (``RoomInventory/firstArrivalMicros``); each
/// participant's frames are placed by a ``ParticipantClock`` with that origin. Output is produced
/// up to a watermark one second behind the newest arrival, so frames that the reorder buffers
/// release late still land in time; memory is bounded by that second.
///
/// Participants and streams may be added while frames flow (a live recording learns them as they
/// come): ``addStream(_:)`` before the stream's first frame, ``noteArrival(participant:arrivalMicros:)``
/// for every packet keeps a participant on the canvas.
///
/// Segments (`segmentSeconds`): file k holds room time [k·L, (k+1)·L) with its timestamps from 0.
/// The video frame at a boundary is forced to be a keyframe; the audio gets a fresh Opus encoder,
/// and the old one's lookahead ends the previous file in a tail packet trimmed to the boundary
/// (DiscardPadding), so the files' decoded audio adds up to the room's with no gap or overlap.
public final class CompositeRecorder {
    /// How far behind the newest arrival output is produced.
    public static let latencyMicros: Int64 = 1_000_000
    /// A participant stays on the canvas this long after its last media.
    public static let leaveGraceMicros: Int64 = 1_000_000

    private let config: CompositeConfig
    private let latency: Int64
    private let origin: Int64
    /// The end of the room: the latest presentation end of any frame seen (room µs).
    private var endMicros: Int64 = 0
    private var participants: [ParticipantTrack] = []
    private var participantOfStream: [StreamKey: Int] = [:]
    private var participantNamed: [String: Int] = [:]
    private let writer: SegmentedWebMWriter
    private let segments: SegmentClock?
    private let audioTrack: Int
    private let videoTrack: Int?
    private var opus: OpusEncoder
    /// The segment whose audio `opus` encodes.
    private var opusSegment = 0
    private var mixer: AudioMixer
    private let video: VideoOutput?
    private var speaker = ActiveSpeakerDetector()
    private var activeSpeaker: String?
    private var newestArrival = Int64.min
    /// Next audio block start and next video frame index, room time.
    private var audioPosition: Int64 = 0
    private var videoIndex: Int64 = 0
    private var mixed: [Int16]
    /// One block of each participant's audio, allocated once (the mixer reads them in place).
    private var blockScratch: [UnsafeMutableBufferPointer<Int16>] = []
    private var mixInputs: [(samples: UnsafeBufferPointer<Int16>, gain: Float)] = []
    public private(set) var stats = CompositeStats()

    static let blockSamples = 960

    /// Opens `path` (as `.partial` until `finish`), or with `segmentSeconds` its first segment (see
    /// ``SegmentedWebMWriter``), for a room whose time 0 is `originMicros` (capture clock);
    /// participants come with their streams.
    /// `latencyMicros`: how far behind the newest arrival output is made (``latencyMicros`` by default;
    /// a live recording that holds a newcomer's first frames until their timing is known needs more).
    public init(config: CompositeConfig, path: String, overwrite: Bool, originMicros: Int64, segmentSeconds: Int? = nil,
                latencyMicros: Int64 = CompositeRecorder.latencyMicros) throws {
        self.config = config
        origin = originMicros
        latency = latencyMicros
        opus = try Self.audioEncoder(config.audio)
        // -3 dBFS leaves the Opus encoder headroom: lossy coding overshoots a hard-limited peak by about 1 dB.
        mixer = AudioMixer(channels: config.audio.channels, ceilingDBFS: -3)
        mixed = [Int16](repeating: 0, count: Self.blockSamples * config.audio.channels)
        var tracks: [WebMTrack] = []
        if let videoConfig = config.video {
            video = try VideoOutput(videoConfig)
            videoTrack = tracks.count
            tracks.append(.video(codec: videoConfig.codec, width: videoConfig.width, height: videoConfig.height))
        } else {
            video = nil
            videoTrack = nil
        }
        audioTrack = tracks.count
        tracks.append(.audio(codec: .opus, sampleRate: 48_000, channels: config.audio.channels, preSkip: opus.lookahead))
        segments = segmentSeconds.map { SegmentClock(seconds: $0) }
        writer = try SegmentedWebMWriter(path: path, tracks: tracks, segment: segments == nil ? nil : 0, overwrite: overwrite)
    }

    private static func audioEncoder(_ config: AudioConfig) throws -> OpusEncoder {
        try OpusEncoder(sampleRate: 48_000, channels: config.channels, bitrate: config.bitrateKbps * 1000, application: .audio)
    }

    deinit {
        for buffer in blockScratch { buffer.deallocate() }
    }

    /// Adds a stream of a known codec, and its participant (by ``StreamInfo/participant``) if new.
    /// `colourIndex` picks the placeholder colour; default: the participant's order of appearance.
    public func addStream(_ stream: StreamInfo, colourIndex: Int? = nil) throws {
        guard stream.codec != nil, participantOfStream[stream.key] == nil else { return }
        let index: Int
        if let existing = participantNamed[stream.participant] {
            index = existing
        } else {
            index = participants.count
            participantNamed[stream.participant] = index
            participants.append(try ParticipantTrack(name: stream.participant, index: colourIndex ?? index, origin: origin,
                                                     audioChannels: config.audio.channels))
            let buffer = UnsafeMutableBufferPointer<Int16>.allocate(capacity: Self.blockSamples * config.audio.channels)
            buffer.initialize(repeating: 0)
            blockScratch.append(buffer)
        }
        participantOfStream[stream.key] = index
        participants[index].addStream(stream)
    }

    /// More of a stream's timing became known (a Sender Report, the least-delayed packet so far):
    /// used when its first frame is placed, if that has not happened yet.
    public func updateTiming(_ stream: StreamInfo) {
        if let index = participantOfStream[stream.key] { participants[index].updateTiming(stream) }
    }

    /// A packet of `participant` arrived (capture clock): it stays on the canvas until a second after its last one.
    public func noteArrival(participant: String, arrivalMicros: Int64) {
        if let index = participantNamed[participant] { participants[index].noteArrival(arrivalMicros) }
    }

    /// Takes one frame of the room (in arrival order) and writes whatever output is now final.
    public func add(_ roomFrame: RoomFrame) throws {
        guard let index = participantOfStream[roomFrame.stream] else { return }
        let placed = participants[index].add(roomFrame, audioReadPosition: audioPosition, videoShownMicros: videoTime(videoIndex))
        if !placed.inTime { stats.lateFrames += 1 }
        endMicros = max(endMicros, placed.endMicros)
        newestArrival = max(newestArrival, roomFrame.frame.arrivalMicros - origin)
        try produce(until: newestArrival - latency)
    }

    /// The files written, in order, once ``finish()`` has returned.
    public private(set) var files: [WebMSegment] = []

    /// Writes everything up to the room's end, flushes the encoders and finalises the file(s).
    public func finish() throws {
        try produce(until: endMicros, final: true)
        if let video, let videoTrack {
            for packet in try video.flush() {
                try writer.write(track: videoTrack, data: packet.data, ptsMillis: videoTime(packet.pts) / 1000, isKeyframe: packet.isKeyframe)
            }
        }
        files = try writer.finish()
        stats.durationSeconds = Double(max(audioPosition * 1_000_000 / 48_000, videoTime(videoIndex))) / 1_000_000
    }

    /// Encodes the video at the codec's top speed (lower quality) while `fast`, else at the
    /// pipeline's `cpu_used`: a live recording that fell behind catches up this way.
    public func setFastEncoding(_ fast: Bool) throws {
        guard let video, fast != fastEncoding else { return }
        try video.encoder.setCPUUsed(fast ? video.encoder.fastestCPUUsed : video.config.cpuUsed)
        fastEncoding = fast
    }

    /// Whether the video is being encoded at top speed (``setFastEncoding(_:)``).
    public private(set) var fastEncoding = false

    /// Closes the open file(s); what was written stays as `.partial` when `keepPartial`, or is
    /// removed (segments already finished stay).
    public func abort(keepPartial: Bool) { writer.abort(keepPartial: keepPartial) }

    /// Opens the segment holding room time `micros` when it is a new one; true when it did.
    private func enterSegment(atMicros micros: Int64) throws -> Bool {
        guard let segments else { return false }
        let index = segments.index(atMillis: micros / 1000)
        guard index > writer.currentIndex ?? index else { return false }
        try writer.startSegment(index: index, atMillis: segments.startMillis(of: index))
        return true
    }

    private func videoTime(_ index: Int64) -> Int64 {
        guard let fps = config.video?.fps else { return 0 }
        return index * 1_000_000 / Int64(fps)
    }

    /// Mixes audio blocks and composes video frames, in time order, up to `limit` (room µs): audio
    /// blocks that end by it, video frames that start before it (at the end: that start before it).
    private func produce(until limit: Int64, final: Bool = false) throws {
        while true {
            let audioEnd = (audioPosition + Int64(Self.blockSamples)) * 1_000_000 / 48_000
            let nextVideo = video == nil ? Int64.max : videoTime(videoIndex)
            if audioEnd <= nextVideo || video == nil {
                guard audioEnd <= limit else { return }
                try mixBlock()
            } else {
                guard final ? nextVideo < limit : nextVideo <= limit else { return }
                try composeFrame(at: nextVideo)
            }
        }
    }

    private func mixBlock() throws {
        let started = ContinuousClock.now
        var levels: [String: Double] = [:]
        mixInputs.removeAll(keepingCapacity: true)
        for (i, participant) in participants.enumerated() where participant.hasAudio {
            participant.readAudio(from: audioPosition, into: blockScratch[i])
            let block = UnsafeBufferPointer(blockScratch[i])
            levels[participant.name] = AudioMixer.level(block)
            mixInputs.append((block, 1))
        }
        mixed.withUnsafeMutableBufferPointer { mixer.mix(mixInputs, into: $0) }
        let blockStartMillis = audioPosition * 1000 / 48_000
        activeSpeaker = speaker.update(levels: levels, atMillis: blockStartMillis) ?? activeSpeaker
        stats.mixSeconds += (ContinuousClock.now - started).seconds
        _ = try enterSegment(atMicros: blockStartMillis * 1000)
        if let index = writer.currentIndex, index > opusSegment {
            // The old stream's last input sits in the encoder's lookahead: this block pushes it out,
            // and only those samples play at the previous file's end.
            let tail = try opus.encode(mixed)
            try writer.writeTail(track: audioTrack, data: tail, ptsMillis: blockStartMillis,
                                 discardPaddingSamples: Self.blockSamples - opus.lookahead)
            opus = try Self.audioEncoder(config.audio)
            opusSegment = index
        }
        let packet = try opus.encode(mixed)
        try writer.write(track: audioTrack, data: packet, ptsMillis: blockStartMillis, isKeyframe: true)
        audioPosition += Int64(Self.blockSamples)
        let now = audioPosition * 1_000_000 / 48_000
        for participant in participants {
            participant.discardAudio(before: audioPosition)
            participant.releaseIfGone(at: now)
        }
        stats.audioBlocks += 1
    }

    private func composeFrame(at time: Int64) throws {
        guard let video, let videoTrack else { return }
        var visible: [Int] = []
        for i in participants.indices where participants[i].isPresent(at: time) {
            participants[i].decodeVideo(upTo: time)
            visible.append(i)
        }
        stats.decodeErrors = participants.reduce(0) { $0 + $1.decodeErrors }
        let started = ContinuousClock.now
        // A screen share, while one is shown, takes the large tile; otherwise the active speaker does.
        let active = visible.firstIndex { participants[$0].isScreenShare }
            ?? visible.firstIndex { participants[$0].name == activeSpeaker } ?? 0
        let rects = Layout.tiles(video.config.layout, count: visible.count, active: active,
                                 canvasWidth: video.config.width, canvasHeight: video.config.height)
        var tiles: [(rect: TileRect, content: TileContent)] = []
        for (slot, i) in visible.enumerated() where slot < rects.count {
            tiles.append((rects[slot], participants[i].tileContent))
        }
        let canvas = video.compositor.compose(tiles)
        stats.composeSeconds += (ContinuousClock.now - started).seconds
        let startsSegment = try enterSegment(atMicros: time)
        for packet in try video.encoder.encode(canvas, pts: videoIndex, forceKeyframe: startsSegment) {
            try writer.write(track: videoTrack, data: packet.data, ptsMillis: videoTime(packet.pts) / 1000, isKeyframe: packet.isKeyframe)
        }
        videoIndex += 1
        stats.videoFrames += 1
    }
}

/// The composite's video side: canvas, compositor, encoder.
final class VideoOutput {
    let config: VideoConfig
    let compositor: VideoCompositor
    let encoder: VPXEncoder

    init(_ config: VideoConfig) throws {
        self.config = config
        compositor = VideoCompositor(width: config.width, height: config.height)
        encoder = try VPXEncoder(VPXEncoder.Settings(codec: config.codec, width: config.width, height: config.height, fps: config.fps,
                                                     bitrateKbps: config.bitrateKbps, keyframeInterval: config.keyframeInterval,
                                                     deadline: config.deadline, cpuUsed: config.cpuUsed, threads: config.threads))
    }

    func flush() throws -> [EncodedPacket] { try encoder.flush() }
}

extension Duration {
    /// The duration in seconds as a floating-point number.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
