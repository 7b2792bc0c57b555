import Foundation
import Ingest
import Jobs
import Media
import Pipeline
import RTP

/// How far the live outputs have got, for metrics.
public struct LiveOutputsProgress: Sendable, Equatable {
    /// Composite video frames encoded so far.
    public var framesEncoded = 0
    /// Composite media time written so far, seconds.
    public var mediaSeconds = 0.0
    /// Packets waiting for the worker now.
    public var queuedPackets = 0
    /// A participant's file waits for a video keyframe to be cut at a segment boundary (the recording asks for one).
    public var awaitingKeyframe = false
    /// The room's time 0 on the capture clock (µs): the first packet's arrival; nil before it.
    public var originMicros: Int64?
    /// How many times the composite's video went to top speed to catch up a backlog.
    public var catchUps = 0
    /// Video freezes in the recorded pictures so far (every participant), and the longest (s).
    public var videoFreezes = 0
    public var longestFreezeSeconds = 0.0
    /// Why the live outputs were given up, if they were (the outputs are then made from the captures).
    public var failure: String?
}

/// Makes a recording's outputs while it runs, so that a stop (SIGTERM included) only has to write
/// the last second and the trailers.
///
/// Every captured packet is also queued here; one worker thread turns them into frames
/// (``InputFramer``: reorder buffer and depacketizer per stream) and feeds ``RoomOutputs``, the same
/// composite and per-participant writers as `flowrec transcode`, two seconds behind the newest
/// packet. Streams are declared on their first packet (codec by the capture's fixed payload types);
/// a newcomer's first frames wait until its streams' timing is known (``StreamTiming``), so they
/// are placed by the senders' clocks as in `transcode`.
///
/// When the worker falls behind (``maxQueuedPackets`` waiting) or writing fails, the live outputs are
/// given up (their files stay `.partial`) and ``finish()`` throws why: the recording then makes
/// the outputs from the captures after the stop, as before. A test can ask the queue to block
/// instead (`blockWhenFull`), for runs faster than real time.
public final class LiveOutputs: @unchecked Sendable {
    /// Packets queued at most before the live outputs are given up (about 30 s of a four-person room).
    public static let maxQueuedPackets = 20_000

    private let condition = NSCondition()
    // Guarded by `condition`:
    private var queue: [Packet] = []
    private var closing = false
    private var finished = false
    private var progressNow = LiveOutputsProgress()
    private var sources: [String] = []
    private var result: Result<(outputs: [OutputFile], warnings: [String]), any Error>?

    private let blockWhenFull: Bool
    private let maxQueued: Int
    private let clock: @Sendable () -> Int64

    struct Packet {
        var source: Int
        var participant: String
        var bytes: [UInt8]
        var arrivalMicros: Int64
        /// Not a packet: the source's capture is closed (see ``endSource(_:)``).
        var endsSource = false
    }

    /// Starts the worker; nothing is written before the first packet. `clock` is the capture clock
    /// (µs), read while no packet comes. `warn` hears, on the worker's thread, what the outputs
    /// cannot record as it happens (a video stream over `--max-picture`); ``finish()`` says it again.
    public init(out: OutputLocation, pipeline: PipelineConfig, overwrite: Bool, maxQueuedPackets: Int = LiveOutputs.maxQueuedPackets,
                blockWhenFull: Bool = false, clock: (@Sendable () -> Int64)? = nil, warn: (@Sendable (String) -> Void)? = nil) {
        self.blockWhenFull = blockWhenFull
        self.clock = clock ?? { LiveClock.wallMicros() }
        maxQueued = maxQueuedPackets
        let thread = Thread { [self] in run(LiveOutputsWorker(out: out, pipeline: pipeline, overwrite: overwrite, warn: warn)) }
        thread.name = "flowrec-live-outputs"
        thread.start()
    }

    /// A number for one capture file's packets (one participant's connection): the input it would be in `transcode`.
    public func source(capturePath: String) -> Int {
        condition.lock()
        defer { condition.unlock() }
        if let known = sources.firstIndex(of: capturePath) { return known }
        sources.append(capturePath)
        return sources.count - 1
    }

    /// Queues one packet as captured (payload types already rewritten to the capture's fixed ones),
    /// seen at `arrivalMicros` on the capture clock.
    public func add(source: Int, participant: String, bytes: [UInt8], arrivalMicros: Int64) {
        condition.lock()
        defer { condition.unlock() }
        guard !closing, progressNow.failure == nil else { return }
        while queue.count >= maxQueued {
            guard blockWhenFull else {
                progressNow.failure = "the live outputs fell \(maxQueued) packets behind"
                queue.removeAll()
                condition.broadcast()
                return
            }
            condition.wait()
        }
        queue.append(Packet(source: source, participant: participant, bytes: bytes, arrivalMicros: arrivalMicros))
        condition.broadcast()
    }

    /// The capture of `source` is closed (its connection ended): what its reorder buffers still hold
    /// goes out now, and its per-stream state is let go (a later connection is another source).
    public func endSource(_ source: Int) {
        condition.lock()
        defer { condition.unlock() }
        guard !closing, progressNow.failure == nil else { return }
        queue.append(Packet(source: source, participant: "", bytes: [], arrivalMicros: 0, endsSource: true))
        condition.broadcast()
    }

    public var progress: LiveOutputsProgress {
        condition.lock()
        defer { condition.unlock() }
        var now = progressNow
        now.queuedPackets = queue.count
        return now
    }

    /// Writes what is queued and finalises the files; waits for the worker. Throws why the live
    /// outputs were given up (their files are then `.partial`).
    public func finish() throws -> (outputs: [OutputFile], warnings: [String]) {
        condition.lock()
        closing = true
        condition.broadcast()
        while !finished { condition.wait() }
        let result = result!
        condition.unlock()
        return try result.get()
    }

    private func run(_ worker: LiveOutputsWorker) {
        var batch: [Packet] = []
        while true {
            condition.lock()
            while queue.isEmpty, !closing, progressNow.failure == nil {
                // Wake at least every 100 ms: reorder buffers release what they held too long.
                if !condition.wait(until: Date(timeIntervalSinceNow: 0.1)) { break }
            }
            swap(&batch, &queue)
            let failure = progressNow.failure
            let ending = closing && batch.isEmpty
            condition.broadcast()
            condition.unlock()

            if let failure {
                worker.giveUp()
                return end(.failure(JobError(failure)))
            }
            do {
                try worker.pace(backlog: batch.count)
                if batch.isEmpty { try worker.tick(wallMicros: clock()) }
                for packet in batch { try worker.add(packet) }
                batch.removeAll(keepingCapacity: true)
                report(worker)
                if ending { return end(.success(try worker.finish())) }
            } catch {
                worker.giveUp()
                condition.lock()
                progressNow.failure = "writing the live outputs failed: \(error)"
                condition.unlock()
                return end(.failure(error))
            }
        }
    }

    private func report(_ worker: LiveOutputsWorker) {
        let stats = worker.compositeStats
        condition.lock()
        progressNow.framesEncoded = stats?.videoFrames ?? 0
        progressNow.mediaSeconds = Double(stats?.audioBlocks ?? 0) * 0.02
        progressNow.awaitingKeyframe = worker.awaitsKeyframe
        progressNow.catchUps = worker.catchUps
        let freezes = worker.freezes
        progressNow.videoFreezes = freezes.count
        progressNow.longestFreezeSeconds = Double(freezes.longestMicros) / 1_000_000
        progressNow.originMicros = worker.originMicros
        condition.unlock()
    }

    private func end(_ outcome: Result<(outputs: [OutputFile], warnings: [String]), any Error>) {
        condition.lock()
        result = outcome
        queue.removeAll()
        finished = true
        condition.broadcast()
        condition.unlock()
    }
}

/// The worker thread's state: one ``InputFramer`` per source, the room's outputs.
private final class LiveOutputsWorker {
    private let out: OutputLocation
    private let pipeline: PipelineConfig
    private let overwrite: Bool
    private let warn: (@Sendable (String) -> Void)?
    private var room: RoomOutputs?
    private var framers: [Int: InputFramer] = [:]
    private let payloadTypes = ParticipantCapture.payloadTypes
    private var lastSweep = Int64.min
    private var newestArrival = Int64.min
    private var timing = StreamTiming()
    /// The framers' output, reused from packet to packet.
    private var frames: [RoomFrame] = []
    /// Output is made this far behind the newest packet: a newcomer's frames may be held for
    /// ``StreamTiming/holdMicros``, and must still come in time.
    static let compositeLatencyMicros = StreamTiming.holdMicros + 500_000

    init(out: OutputLocation, pipeline: PipelineConfig, overwrite: Bool, warn: (@Sendable (String) -> Void)?) {
        self.warn = warn
        self.out = out
        self.pipeline = pipeline
        self.overwrite = overwrite
    }

    var compositeStats: CompositeStats? { room?.compositeStats }
    var awaitsKeyframe: Bool { room?.awaitsKeyframe ?? false }
    var freezes: (count: Int, longestMicros: Int64) { room?.freezes ?? (0, 0) }
    private(set) var originMicros: Int64?

    func add(_ packet: LiveOutputs.Packet) throws {
        if packet.endsSource { return try end(source: packet.source) }
        let bytes = packet.bytes
        guard let header = RTPHeaderPeek(bytes) else { return }
        let arrival = packet.arrivalMicros
        if isRTCP(bytes) { return try senderReports(bytes, source: packet.source) }
        newestArrival = max(newestArrival, arrival)
        let framer = framers[packet.source] ?? {
            let created = InputFramer(input: packet.source, options: IngestOptions())
            framers[packet.source] = created
            return created
        }()
        let ssrc = header.ssrc, payloadType = header.payloadType
        let name = safeFileName(packet.participant)
        let key = StreamKey(input: packet.source, ssrc: ssrc)
        if !framer.hasStream(ssrc), let codec = payloadTypes[payloadType] {
            let room = try self.room ?? RoomOutputs(out: out, pipeline: pipeline, overwrite: overwrite, originMicros: arrival,
                                                    compositeLatencyMicros: Self.compositeLatencyMicros)
            if self.room == nil {
                originMicros = arrival
                room.onWarning = warn
            }
            self.room = room
            framer.addStream(ssrc: ssrc, codec: codec, payloadType: payloadType)
            try room.addStream(timing.declare(StreamInfo(key: key, codec: codec, codecSource: "sdp", payloadType: payloadType,
                                                         participant: name, arrivalMicros: arrival)))
        }
        guard let room else { return }
        room.noteArrival(participant: name, arrivalMicros: arrival)
        timing.observe(key, timestamp: header.timestamp, arrivalMicros: arrival)
        framer.push(bytes, arrivalMicros: arrival, into: &frames)
        try passOn()
        // Time passes for every source, not only the one that sent this packet.
        if arrival >= lastSweep &+ 20_000 { try sweep(arrival) }
    }

    /// The first Sender Report of each stream of `source` times its frames (see ``StreamTiming``).
    private func senderReports(_ bytes: [UInt8], source: Int) throws {
        guard let packets = try? RTCP.parseCompound(bytes) else { return }
        for case .senderReport(let sr) in packets {
            let mapping = ClockMapping(wallMicros: NTPTime.unixMicros(fromNTP: sr.ntpTimestamp), rtpTimestamp: sr.rtpTimestamp)
            try apply(timing.senderReport(StreamKey(input: source, ssrc: sr.ssrc), mapping))
        }
    }

    /// Frames the framers completed, passed on (through ``StreamTiming``) and cleared.
    private func passOn() throws {
        defer { frames.removeAll(keepingCapacity: true) }
        for frame in frames { try apply(timing.frame(frame)) }
    }

    private func apply(_ steps: [StreamTiming.Step]) throws {
        guard let room else { return }
        for step in steps {
            switch step {
            case .timing(let stream): room.updateTiming(stream)
            case .frame(let frame): try room.add(frame)
            }
        }
    }

    /// Packets drained at once from which the composite's video is encoded at top speed (about two
    /// seconds behind with four cameras), and up to which it goes back to the pipeline's speed.
    static let catchUpBacklog = 1_000
    static let relaxedBacklog = 100
    private var catchingUp = false
    private(set) var catchUps = 0

    /// Trades the composite's picture quality for speed while the worker is behind, before the
    /// backlog grows to where the live outputs are given up (measured: about 35% less CPU for the
    /// 720p composite at VP8 `cpu_used` 16 than at the presets' 8).
    func pace(backlog: Int) throws {
        guard let room else { return }
        if backlog >= Self.catchUpBacklog, !catchingUp {
            try room.setFastEncoding(true)
            catchingUp = true
            catchUps += 1
        } else if backlog <= Self.relaxedBacklog, catchingUp {
            try room.setFastEncoding(false)
            catchingUp = false
        }
    }

    /// No packet came for a while: release what the reorder buffers held too long.
    func tick(wallMicros: Int64) throws {
        guard newestArrival != .min else { return }
        try sweep(max(newestArrival, wallMicros))
    }

    private func sweep(_ now: Int64) throws {
        lastSweep = now
        for source in framers.keys.sorted() { framers[source]!.advance(toMicros: now, into: &frames) }
        try passOn()
        try apply(timing.release(now: now))
    }

    /// Releases what `source`'s framer holds and lets it go.
    private func end(source: Int) throws {
        guard let framer = framers.removeValue(forKey: source) else { return }
        framer.finish(into: &frames)
        try passOn()
    }

    func finish() throws -> (outputs: [OutputFile], warnings: [String]) {
        guard let room else { return ([], []) }
        for source in framers.keys.sorted() { try end(source: source) }
        try apply(timing.release(now: .max, everyone: true))
        var written = try room.finish()
        if catchUps > 0 {
            written.warnings.append("the outputs fell behind the recording \(catchUps) time(s); the composite was encoded at top speed (lower quality) while they caught up")
        }
        return written
    }

    /// Closes every file, keeping what was written as `.partial` (the fallback from the captures
    /// writes the same names; if that fails too, nothing received is lost).
    func giveUp() { room?.abort(keepPartial: true) }
}
