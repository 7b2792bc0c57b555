import Capture
import Foundation
import Media
import RTP

/// One complete encoded frame of one stream of the room.
public struct RoomFrame: Sendable {
    public var stream: StreamKey
    /// Its RTP timestamp is on the stream's continuous timeline (see ``TimestampContinuity``).
    public var frame: EncodedFrame
    /// Set on the first frame after a timestamp discontinuity of its stream.
    public var timestampJump: TimestampJump?

    public init(stream: StreamKey, frame: EncodedFrame, timestampJump: TimestampJump? = nil) {
        self.stream = stream
        self.frame = frame
        self.timestampJump = timestampJump
    }
}

/// Per-stream counters from reordering and depacketizing.
public struct StreamStats: Sendable, Equatable {
    public var reorder = ReorderStats()
    public var depacketizer = DepacketizerStats()
    /// Resolutions seen on keyframes, in order of first appearance.
    public var resolutions: [Resolution] = []
    public var firstRTPTimestamp: Int64?
    public var lastRTPTimestamp: Int64?
    /// Timestamp discontinuities (``TimestampContinuity``), and the first of them.
    public var timestampJumps = 0
    public var firstTimestampJump: TimestampJump?

    public init() {}

    public struct Resolution: Sendable, Equatable, CustomStringConvertible {
        public var width: Int
        public var height: Int
        public var description: String { "\(width)x\(height)" }
    }
}

/// Pass two: replays the inputs through a reorder buffer and a depacketizer per stream and
/// yields complete frames, merged across inputs by arrival time.
///
/// Each input is read and depacketized on its own thread (streams never span inputs), handing
/// frames over in batches through a bounded channel; this thread only merges. Memory is bounded
/// by the reorder buffers and the channels whatever the length of the inputs.
public final class FrameReader {
    /// Frames handed over per batch, and batches waiting per input, at most.
    static let batchSize = 256
    static let queuedBatches = 8

    private let channels: [BatchChannel<RoomFrame>]
    private var batches: [[RoomFrame]]
    private var positions: [Int]
    private var done: [Bool]
    private let collector = StatsCollector()

    /// Starts reading the inputs of `inventory` again; errors surface from `next()`.
    public init(inventory: RoomInventory, options: IngestOptions = IngestOptions()) {
        var channels: [BatchChannel<RoomFrame>] = []
        for (input, path) in inventory.inputs.enumerated() {
            let channel = BatchChannel<RoomFrame>(capacity: Self.queuedBatches)
            channels.append(channel)
            let streams = inventory.streams.filter { $0.key.input == input && $0.codec != nil }
            let collector = collector
            let thread = Thread {
                InputDecoder.run(path: path, input: input, streams: streams, options: options, channel: channel, collector: collector)
            }
            thread.name = "flowrec-input-\(input)"
            thread.start()
        }
        self.channels = channels
        batches = Array(repeating: [], count: channels.count)
        positions = Array(repeating: 0, count: channels.count)
        done = Array(repeating: false, count: channels.count)
    }

    deinit {
        for channel in channels { channel.cancel() }
    }

    /// The next frame in (approximately) arrival order, or nil when every input is done.
    /// Throws the first input's read error (it names file and offset).
    public func next() throws -> RoomFrame? {
        var best = -1
        var bestArrival = Int64.max
        for input in channels.indices where !done[input] {
            if positions[input] == batches[input].count {
                guard let batch = try channels[input].receive() else {
                    done[input] = true
                    batches[input] = []
                    continue
                }
                batches[input] = batch
                positions[input] = 0
                if batch.isEmpty { continue }
            }
            let arrival = batches[input][positions[input]].frame.arrivalMicros
            if arrival < bestArrival {
                best = input
                bestArrival = arrival
            }
        }
        if best < 0 {
            // Every input either finished or handed over an empty batch: try again until all are done.
            return done.allSatisfy { $0 } ? nil : try next()
        }
        defer { positions[best] += 1 }
        return batches[best][positions[best]]
    }

    /// Statistics per stream (complete once `next()` returned nil).
    public var stats: [StreamKey: StreamStats] { collector.stats }
}

/// Per-stream statistics handed back by the input threads when they finish.
final class StatsCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [StreamKey: StreamStats] = [:]

    func add(_ key: StreamKey, _ stats: StreamStats) {
        lock.lock()
        collected[key] = stats
        lock.unlock()
    }

    var stats: [StreamKey: StreamStats] {
        lock.lock()
        defer { lock.unlock() }
        return collected
    }
}

/// The work of one input's thread: read, reorder and depacketize (``InputFramer``), hand over in batches.
enum InputDecoder {
    static func run(path: String, input: Int, streams: [StreamInfo], options: IngestOptions,
                    channel: BatchChannel<RoomFrame>, collector: StatsCollector) {
        let framer = InputFramer(input: input, options: options)
        for stream in streams { framer.addStream(ssrc: stream.key.ssrc, codec: stream.codec!, payloadType: stream.payloadType) }
        var batch: [RoomFrame] = []
        batch.reserveCapacity(FrameReader.batchSize)
        /// Hands a full batch over; false when the reader went away.
        func handOver() -> Bool {
            guard batch.count >= FrameReader.batchSize else { return true }
            defer { batch.removeAll(keepingCapacity: true) }
            return channel.send(batch)
        }
        do {
            let reader = try openCaptureReader(path: path)
            // The same corrections as the scan's (``InputScan``): same packets, same corrector.
            var clock = CaptureClockCorrector()
            while let captured = try reader.next() {
                framer.push(captured.data, arrivalMicros: clock.correct(captured), into: &batch)
                guard handOver() else { return }
            }
            framer.finish(into: &batch)
            guard handOver() else { return }
            for (key, stats) in framer.stats { collector.add(key, stats) }
            if !batch.isEmpty, !channel.send(batch) { return }
            channel.finish()
        } catch {
            for (key, stats) in framer.stats { collector.add(key, stats) }
            if !batch.isEmpty, !channel.send(batch) { return }
            channel.finish(error: error)
        }
    }
}

/// Turns the packets of one input (a capture file, or one live participant's connection), in
/// arrival order, into complete frames: a reorder buffer and a depacketizer per declared stream.
/// Packets of undeclared SSRCs or other payload types, and RTCP, are skipped. Time passes for
/// every stream with each packet: packets held longer than the reorder window are released.
public final class InputFramer {
    public let input: Int
    private let options: IngestOptions
    private var pipelines: [StreamPipeline] = []
    private var index: [UInt32: Int] = [:]
    private var lastSweep = Int64.min

    public init(input: Int, options: IngestOptions) {
        self.input = input
        self.options = options
    }

    /// Declares the stream `ssrc` of this input: its packets with `payloadType` carry `codec`.
    public func addStream(ssrc: UInt32, codec: Codec, payloadType: UInt8) {
        guard index[ssrc] == nil else { return }
        index[ssrc] = pipelines.count
        pipelines.append(StreamPipeline(key: StreamKey(input: input, ssrc: ssrc), codec: codec, payloadType: payloadType,
                                        reorder: ReorderBuffer(maxPackets: options.reorderPackets, maxDelayMicros: options.reorderMicros)))
    }

    /// Whether `ssrc` was declared.
    public func hasStream(_ ssrc: UInt32) -> Bool { index[ssrc] != nil }

    /// One captured datagram: appends the frames it completed (or that time released) to `frames`.
    public func push(_ data: [UInt8], arrivalMicros arrival: Int64, into frames: inout [RoomFrame]) {
        if !isRTCP(data), let packet = try? RTPPacket(parsing: data), let i = index[packet.ssrc], packet.payloadType == pipelines[i].payloadType {
            frames += pipelines[i].push(packet, arrivalMicros: arrival)
        }
        if arrival >= lastSweep &+ 20_000 { advance(toMicros: arrival, into: &frames) }
    }

    /// Appends to `frames` what every stream held longer than the reorder window by `now` (a live
    /// input's clock ticks on while no packet comes).
    public func advance(toMicros now: Int64, into frames: inout [RoomFrame]) {
        lastSweep = now
        for pipeline in pipelines { frames += pipeline.advance(toMicros: now) }
    }

    /// Appends to `frames` everything still held, at the end of the input.
    public func finish(into frames: inout [RoomFrame]) {
        for pipeline in pipelines { frames += pipeline.finish() }
    }

    /// Counters per stream.
    public var stats: [StreamKey: StreamStats] { Dictionary(uniqueKeysWithValues: pipelines.map { ($0.key, $0.stats) }) }
}

/// Reorder buffer + depacketizer + timestamp continuity of one stream (a class: it is mutated in
/// place per packet).
final class StreamPipeline {
    let key: StreamKey
    let payloadType: UInt8
    var reorder: ReorderBuffer
    var depacketizer: any Depacketizer
    var continuity: TimestampContinuity
    var stats = StreamStats()

    init(key: StreamKey, codec: Codec, payloadType: UInt8, reorder: ReorderBuffer) {
        self.key = key
        self.payloadType = payloadType
        self.reorder = reorder
        depacketizer = makeDepacketizer(for: codec)
        continuity = TimestampContinuity(clockRate: codec.clockRate)
    }

    func push(_ packet: RTPPacket, arrivalMicros: Int64) -> [RoomFrame] {
        depacketize(reorder.insert(packet, arrivalMicros: arrivalMicros))
    }

    func advance(toMicros now: Int64) -> [RoomFrame] {
        depacketize(reorder.advance(toMicros: now))
    }

    func finish() -> [RoomFrame] {
        depacketize(reorder.flush()) + record(depacketizer.flush())
    }

    private func depacketize(_ outputs: [ReorderOutput]) -> [RoomFrame] {
        var frames: [EncodedFrame] = []
        for output in outputs {
            switch output {
            case .packet(let packet): frames += depacketizer.push(packet)
            case .gap(let first, let count): frames += depacketizer.lost(firstSequence: first, count: count)
            }
        }
        return record(frames)
    }

    /// Places `encoded` on the stream's continuous timeline and counts them.
    private func record(_ encoded: [EncodedFrame]) -> [RoomFrame] {
        stats.reorder = reorder.stats
        stats.depacketizer = depacketizer.stats
        var frames: [RoomFrame] = []
        frames.reserveCapacity(encoded.count)
        for frame in encoded {
            let (frame, jump) = continuity.place(frame)
            frames.append(RoomFrame(stream: key, frame: frame, timestampJump: jump))
            if let jump {
                stats.timestampJumps += 1
                if stats.firstTimestampJump == nil { stats.firstTimestampJump = jump }
            }
            if stats.firstRTPTimestamp == nil { stats.firstRTPTimestamp = frame.rtpTimestamp }
            stats.lastRTPTimestamp = frame.rtpTimestamp
            if frame.isKeyframe, let w = frame.width, let h = frame.height {
                let resolution = StreamStats.Resolution(width: w, height: h)
                if stats.resolutions.last != resolution, !stats.resolutions.contains(resolution) { stats.resolutions.append(resolution) }
            }
        }
        return frames
    }
}
