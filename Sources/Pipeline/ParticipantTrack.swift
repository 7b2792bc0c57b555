import AudioMix
import Ingest
import Media
import VideoCompose

/// One participant inside the composite: its audio decoded onto the room's sample clock, its
/// video frames queued by presentation time and decoded when their time comes, and what its tile
/// shows (the last picture, or a placeholder before the first one).
final class ParticipantTrack {
    let name: String
    private(set) var hasAudio = false
    /// A screen share: the speaker layout shows it large.
    var isScreenShare: Bool { name.hasSuffix(ParticipantNames.screenShareSuffix) }
    private var clock: ParticipantClock
    private var audioDecoders: [StreamKey: OpusTrackDecoder] = [:]
    private let audioChannels: Int
    private let timeline: PCMTimeline
    private var videoQueue: [(pts: Int64, frame: EncodedFrame, stream: StreamKey)] = []
    private var videoHead = 0
    private var videoDecoders: [StreamKey: any VideoDecoding] = [:]
    private var waitingForKeyframe: Set<StreamKey> = []
    private var picture: I420Frame?
    private let origin: Int64
    /// Room time of its first packet and of its last packet so far.
    private var presentFrom = Int64.max
    private var lastArrival = Int64.min
    private let placeholder: TileContent
    private(set) var decodeErrors = 0
    /// Set once its decoding state was let go (``releaseIfGone(at:)``), until its next frame.
    private(set) var isReleased = false

    /// Off the canvas this long (it left, or sent nothing for that long), a participant's decoders,
    /// last picture and audio buffer are let go — made again if it comes back — so that a room whose
    /// people come and go keeps a flat memory (about 2 MB a participant at 320x180, 9 MB at 720p).
    static let releaseAfterMicros: Int64 = 10_000_000

    /// Placeholder colours (BT.601 YUV) by participant order.
    static let palette: [(UInt8, UInt8, UInt8)] = [
        (110, 160, 100), (120, 100, 160), (140, 90, 120), (100, 140, 140), (130, 120, 90), (90, 150, 150),
    ]

    /// A participant with no streams yet (``addStream(_:)`` brings them); `index` picks its placeholder colour.
    init(name: String, index: Int, origin: Int64, audioChannels: Int) throws {
        self.name = name
        self.origin = origin
        self.audioChannels = audioChannels
        clock = ParticipantClock(originMicros: origin, streams: [])
        timeline = PCMTimeline(channels: audioChannels, capacitySamples: 10 * 48_000)
        let colour = Self.palette[index % Self.palette.count]
        let initial = name.first { $0.isLetter || $0.isNumber }.map { Character($0.uppercased()) } ?? "?"
        placeholder = .placeholder(y: colour.0, u: colour.1, v: colour.2, initial: initial)
    }

    /// Takes one of its streams: what is known of it so far (a recording learns more as it goes,
    /// see ``noteArrival(_:)``; a transcode knows it all from the scan).
    func addStream(_ stream: StreamInfo) {
        clock.add(stream)
        if stream.codec == .opus { hasAudio = true }
        presentFrom = min(presentFrom, stream.firstArrivalMicros - origin)
        noteArrival(stream.lastArrivalMicros)
    }

    /// A Sender Report or arrival mapping of one of its streams (used when that stream's first frame is placed).
    func updateTiming(_ stream: StreamInfo) { clock.add(stream) }

    /// A packet of this participant arrived at `arrivalMicros` (capture clock): it stays on the canvas.
    func noteArrival(_ arrivalMicros: Int64) { lastArrival = max(lastArrival, arrivalMicros - origin) }

    /// Takes one frame. Returns whether it came in time to be used (audio not yet mixed) and the
    /// room time at which its presentation ends.
    func add(_ roomFrame: RoomFrame, audioReadPosition: Int64, videoShownMicros: Int64) -> (inTime: Bool, endMicros: Int64) {
        let frame = roomFrame.frame
        isReleased = false
        let pts = clock.presentationMicros(of: frame, stream: roomFrame.stream)
        switch frame.codec {
        case .opus:
            let decoder: OpusTrackDecoder
            if let existing = audioDecoders[roomFrame.stream] {
                decoder = existing
            } else {
                guard let created = try? OpusTrackDecoder(channels: audioChannels) else { return (false, pts) }
                audioDecoders[roomFrame.stream] = created
                decoder = created
            }
            let (start, samples) = decoder.decode(frame)
            let position = pts * 48 / 1000 + (start - frame.rtpTimestamp)
            let end = position + Int64(samples.count / audioChannels)
            guard end > audioReadPosition else { return (false, end * 1000 / 48) }
            timeline.write(samples, at: position)
            return (true, end * 1000 / 48)
        default:
            // Every video frame is decoded, even a late one: later frames reference it. A frame is
            // shown until the next; the last one for a nominal 1/30 s.
            videoQueue.append((pts, frame, roomFrame.stream))
            return (pts >= videoShownMicros - 1_000_000, pts + 33_333)
        }
    }

    /// One block of this participant's audio from the room sample `position` (silence where none).
    func readAudio(from position: Int64, into buffer: UnsafeMutableBufferPointer<Int16>) {
        timeline.read(from: position, count: buffer.count / audioChannels, into: buffer)
    }

    func discardAudio(before position: Int64) { timeline.discard(before: position) }

    /// On the canvas from its first media until a grace period after its last.
    func isPresent(at time: Int64) -> Bool { time >= presentFrom && time < lastArrival + CompositeRecorder.leaveGraceMicros }

    /// Decodes every queued frame presented at or before `time`, in order; the last picture stays.
    /// A frame that does not decode is counted and skipped, and that stream waits for a keyframe.
    func decodeVideo(upTo time: Int64) {
        while videoHead < videoQueue.count, videoQueue[videoHead].pts <= time {
            let (_, frame, stream) = videoQueue[videoHead]
            videoHead += 1
            if waitingForKeyframe.contains(stream) {
                guard frame.isKeyframe else { continue }
                waitingForKeyframe.remove(stream)
            }
            do {
                let decoder: any VideoDecoding
                if let existing = videoDecoders[stream] {
                    decoder = existing
                } else {
                    decoder = try makeVideoDecoder(codec: frame.codec, threads: 1)
                    videoDecoders[stream] = decoder
                }
                if let last = try decoder.decode(frame.data).last { picture = last }
            } catch {
                decodeErrors += 1
                waitingForKeyframe.insert(stream)
            }
        }
        if videoHead > 64 {
            videoQueue.removeFirst(videoHead)
            videoHead = 0
        }
    }

    /// Lets go of the decoders, the last picture, the audio buffer and the frames still queued once
    /// the participant has been off the canvas for ``releaseAfterMicros`` at room time `time`
    /// (everything it sent has been mixed and shown by then). A returning participant starts as a
    /// new one: its placeholder until its next keyframe.
    func releaseIfGone(at time: Int64) {
        guard !isReleased, lastArrival != .min, time >= lastArrival + CompositeRecorder.leaveGraceMicros + Self.releaseAfterMicros else { return }
        isReleased = true
        audioDecoders.removeAll()
        timeline.release()
        videoQueue.removeAll()
        videoHead = 0
        // A stream that goes on after the pause waits for a keyframe: its fresh decoder has no reference.
        waitingForKeyframe.formUnion(videoDecoders.keys)
        videoDecoders.removeAll()
        picture = nil
    }

    /// What the tile shows now.
    var tileContent: TileContent { picture.map { .picture($0) } ?? placeholder }
}
