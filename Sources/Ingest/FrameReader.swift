import Capture
import Media
import RTP

/// One complete encoded frame of one stream of the room.
public struct RoomFrame: Sendable {
    public var stream: StreamKey
    public var frame: EncodedFrame
}

/// Per-stream counters from reordering and depacketizing.
public struct StreamStats: Sendable, Equatable {
    public var reorder = ReorderStats()
    public var depacketizer = DepacketizerStats()
    /// Resolutions seen on keyframes, in order of first appearance.
    public var resolutions: [Resolution] = []
    public var firstRTPTimestamp: Int64?
    public var lastRTPTimestamp: Int64?

    public init() {}

    public struct Resolution: Sendable, Equatable, CustomStringConvertible {
        public var width: Int
        public var height: Int
        public var description: String { "\(width)x\(height)" }
    }
}

/// Pass two: replays the inputs merged by arrival time through a reorder buffer and a
/// depacketizer per stream, and yields complete frames. Memory is bounded by the reorder
/// buffers (packets and time) whatever the length of the inputs.
public final class FrameReader {
    private let merged: MergedPacketStream
    private let inventory: RoomInventory
    private var pipelines: [StreamKey: StreamPipeline] = [:]
    private var ready: [RoomFrame] = []
    private var readyIndex = 0
    private var lastSweepMicros = Int64.min
    private var finished = false

    /// Opens the inputs of `inventory` again.
    public init(inventory: RoomInventory, options: IngestOptions = IngestOptions()) throws(CaptureError) {
        merged = try MergedPacketStream(paths: inventory.inputs)
        self.inventory = inventory
        for stream in inventory.streams {
            guard let codec = stream.codec else { continue }
            pipelines[stream.key] = StreamPipeline(codec: codec, payloadType: stream.payloadType,
                                                   reorder: ReorderBuffer(maxPackets: options.reorderPackets, maxDelayMicros: options.reorderMicros))
        }
    }

    /// The next frame in (approximately) arrival order, or nil when every input is done.
    public func next() throws(CaptureError) -> RoomFrame? {
        while readyIndex == ready.count {
            ready.removeAll(keepingCapacity: true)
            readyIndex = 0
            if finished { return nil }
            try pump()
        }
        defer { readyIndex += 1 }
        return ready[readyIndex]
    }

    /// Statistics per stream so far (complete once `next()` returned nil).
    public var stats: [StreamKey: StreamStats] { pipelines.mapValues(\.stats) }

    /// Streams currently waiting for a keyframe (a live receiver would send PLI for these).
    public var streamsNeedingKeyframe: [StreamKey] { pipelines.filter { $0.value.depacketizer.needsKeyframe }.map(\.key) }

    private func pump() throws(CaptureError) {
        guard let sourced = try merged.next() else {
            for key in pipelines.keys.sorted() { emit(key, pipelines[key]!.finish()) }
            finished = true
            return
        }
        let data = sourced.packet.data
        let arrival = sourced.packet.arrivalMicros
        if !isRTCP(data), let packet = try? RTPPacket(parsing: data) {
            let key = StreamKey(input: sourced.input, ssrc: packet.ssrc)
            if pipelines[key] != nil, packet.payloadType == pipelines[key]!.payloadType {
                emit(key, pipelines[key]!.push(packet, arrivalMicros: arrival))
            }
        }
        // Time passes for every stream: release packets held longer than the reorder window.
        if arrival >= lastSweepMicros &+ 20_000 {
            lastSweepMicros = arrival
            for key in pipelines.keys.sorted() { emit(key, pipelines[key]!.advance(toMicros: arrival)) }
        }
    }

    private func emit(_ key: StreamKey, _ frames: [EncodedFrame]) {
        for frame in frames { ready.append(RoomFrame(stream: key, frame: frame)) }
    }
}

/// Reorder buffer + depacketizer of one stream.
struct StreamPipeline {
    var payloadType: UInt8
    var reorder: ReorderBuffer
    var depacketizer: any Depacketizer
    var stats = StreamStats()

    init(codec: Codec, payloadType: UInt8, reorder: ReorderBuffer) {
        self.payloadType = payloadType
        self.reorder = reorder
        depacketizer = makeDepacketizer(for: codec)
    }

    mutating func push(_ packet: RTPPacket, arrivalMicros: Int64) -> [EncodedFrame] {
        depacketize(reorder.insert(packet, arrivalMicros: arrivalMicros))
    }

    mutating func advance(toMicros now: Int64) -> [EncodedFrame] {
        depacketize(reorder.advance(toMicros: now))
    }

    mutating func finish() -> [EncodedFrame] {
        let frames = depacketize(reorder.flush())
        let tail = depacketizer.flush()
        record(tail)
        return frames + tail
    }

    private mutating func depacketize(_ outputs: [ReorderOutput]) -> [EncodedFrame] {
        var frames: [EncodedFrame] = []
        for output in outputs {
            switch output {
            case .packet(let packet): frames += depacketizer.push(packet)
            case .gap(let first, let count): frames += depacketizer.lost(firstSequence: first, count: count)
            }
        }
        record(frames)
        return frames
    }

    private mutating func record(_ frames: [EncodedFrame]) {
        stats.reorder = reorder.stats
        stats.depacketizer = depacketizer.stats
        for frame in frames {
            if stats.firstRTPTimestamp == nil { stats.firstRTPTimestamp = frame.rtpTimestamp }
            stats.lastRTPTimestamp = frame.rtpTimestamp
            if frame.isKeyframe, let w = frame.width, let h = frame.height {
                let resolution = StreamStats.Resolution(width: w, height: h)
                if stats.resolutions.last != resolution, !stats.resolutions.contains(resolution) { stats.resolutions.append(resolution) }
            }
        }
    }
}
