import Foundation
import Ingest
import Pipeline

/// The files one room becomes: the composite the pipeline describes and, with `tracks`, one WebM
/// per participant. Frames go in (in arrival order), files come out; streams and participants are
/// declared before their first frame. `transcode` declares them all from the scan; a live
/// recording declares each as its first packet arrives.
public final class RoomOutputs {
    private let out: OutputLocation
    private let pipeline: PipelineConfig
    private let overwrite: Bool
    private let originMicros: Int64
    private let composite: CompositeRecorder?
    private var remuxers: [String: ParticipantRemuxer] = [:]
    private var participantOfStream: [StreamKey: String] = [:]
    /// Per participant with video: which of its video streams is recorded (simulcast layers, restarts).
    private var selectors: [String: VideoLayerSelector] = [:]
    /// Video streams that declared a picture over ``PipelineConfig/maxPicture``: none of their frames
    /// goes on from that one (see ``admits(_:)``).
    private var rejected: [StreamKey: RejectedVideo] = [:]
    /// Participants in order of appearance.
    private var order: [String] = []
    private var streams: [StreamKey: StreamInfo] = [:]
    /// Timestamp discontinuities per stream: how many, and the first.
    private var jumps: [StreamKey: (count: Int, first: TimestampJump)] = [:]
    public private(set) var framesAdded = 0
    /// Told at once what ``finish()`` will warn about too, as it happens (a live recording logs it).
    public var onWarning: ((String) -> Void)?

    /// Creates the output folder and opens the composite (as `.partial`); `originMicros` is the
    /// room's time 0 on the capture clock; `compositeLatencyMicros`: see ``CompositeRecorder``.
    public init(out: OutputLocation, pipeline: PipelineConfig, overwrite: Bool, originMicros: Int64,
                compositeLatencyMicros: Int64 = CompositeRecorder.latencyMicros) throws {
        try createOutputFolder(out.folder)
        self.out = out
        self.pipeline = pipeline
        self.overwrite = overwrite
        self.originMicros = originMicros
        composite = try pipeline.composite.map {
            try CompositeRecorder(config: $0, path: out.compositePath, overwrite: overwrite, originMicros: originMicros,
                                  segmentSeconds: pipeline.segmentSeconds, latencyMicros: compositeLatencyMicros)
        }
    }

    /// Declares a stream (with a known codec) of ``StreamInfo/participant``; `colourIndex` picks the
    /// participant's placeholder colour (default: its order of appearance).
    public func addStream(_ stream: StreamInfo, colourIndex: Int? = nil) throws {
        guard stream.codec != nil, participantOfStream[stream.key] == nil else { return }
        let name = stream.participant
        participantOfStream[stream.key] = name
        streams[stream.key] = stream
        if !order.contains(name) { order.append(name) }
        if stream.codec?.kind == .video { selectors[name, default: VideoLayerSelector()].addStream(stream.key) }
        try composite?.addStream(stream, colourIndex: colourIndex)
        if pipeline.tracks {
            let remuxer = remuxers[name] ?? ParticipantRemuxer(name: name, path: out.participantPath(name), overwrite: overwrite,
                                                               segmentSeconds: pipeline.segmentSeconds, roomOriginMicros: originMicros)
            remuxers[name] = remuxer
            remuxer.addStream(stream)
        }
    }

    /// More of a declared stream's timing became known: its Sender Report, its least-delayed packet
    /// (taken into account if its first frame has not been placed yet).
    public func updateTiming(_ stream: StreamInfo) {
        composite?.updateTiming(stream)
        if let name = participantOfStream[stream.key] { remuxers[name]?.updateTiming(stream) }
    }

    /// A packet of `participant` arrived (capture clock): keeps it on the canvas.
    public func noteArrival(participant: String, arrivalMicros: Int64) {
        composite?.noteArrival(participant: participant, arrivalMicros: arrivalMicros)
    }

    /// Takes one frame of a declared stream. Of a participant's video streams, the one its
    /// ``VideoLayerSelector`` chooses goes on.
    /// A video frame whose bitstream declares a picture over the pipeline's ``PipelineConfig/maxPicture``
    /// drops its stream's video from there on: no decoder allocates for it and no file declares it.
    public func add(_ roomFrame: RoomFrame) throws {
        framesAdded += 1
        if let jump = roomFrame.timestampJump { jumps[roomFrame.stream] = ((jumps[roomFrame.stream]?.count ?? 0) + 1, jumps[roomFrame.stream]?.first ?? jump) }
        guard admits(roomFrame) else { return }
        guard let name = participantOfStream[roomFrame.stream], selectors[name] != nil else { return try pass(roomFrame, of: nil) }
        guard roomFrame.frame.codec.kind == .video else {
            selectors[name]!.noteActivity(arrivalMicros: roomFrame.frame.arrivalMicros)
            return try pass(roomFrame, of: name)
        }
        for frame in selectors[name]!.add(roomFrame) { try pass(frame, of: name) }
    }

    /// False for a frame of a rejected stream, and for the frame that gets its stream rejected.
    private func admits(_ roomFrame: RoomFrame) -> Bool {
        let key = roomFrame.stream
        if rejected[key] != nil {
            rejected[key]!.framesDropped += 1
            return false
        }
        guard let size = pipeline.maxPicture.excess(in: roomFrame.frame) else { return true }
        let seconds = Double(roomFrame.frame.arrivalMicros - originMicros) / 1_000_000
        rejected[key] = RejectedVideo(ssrc: key.ssrc, fromSeconds: seconds, width: size.width, height: size.height,
                                      limit: pipeline.maxPicture.description, framesDropped: 1,
                                      reason: "declared a \(size) picture, over --max-picture \(pipeline.maxPicture)")
        if let name = participantOfStream[key] { remuxers[name]?.dropStream(key) }
        onWarning?("\(participantOfStream[key] ?? "?"): video stream \(String(format: "%08x", key.ssrc)) at "
            + "\(String(format: "%.2f", seconds)) s \(rejected[key]!.reason): its video is not recorded from here on")
        return false
    }

    private func pass(_ roomFrame: RoomFrame, of name: String?) throws {
        try composite?.add(roomFrame)
        if let name { try remuxers[name]?.add(roomFrame) }
    }

    /// Video freezes so far, over every participant: how many, and the longest (µs).
    public var freezes: (count: Int, longestMicros: Int64) {
        selectors.values.reduce((0, 0)) { total, selector in
            let summary = selector.summary
            return (total.0 + summary.freezes, max(total.1, summary.longestFreezeMicros))
        }
    }

    /// What the selector of `name` saw, in room seconds.
    private func recordedVideo(_ name: String) -> RecordedVideo? {
        guard let summary = selectors[name]?.summary else { return nil }
        let recorded = summary.switches.map {
            RecordedVideo.RecordedLayer(ssrc: $0.ssrc, fromSeconds: Double($0.atMicros - originMicros) / 1_000_000, width: $0.width, height: $0.height)
        }
        let dropped = rejectedVideo(of: name)
        return RecordedVideo(layers: summary.layers, recorded: recorded, freezes: summary.freezes,
                             longestFreezeSeconds: Double(summary.longestFreezeMicros) / 1_000_000, rejected: dropped.isEmpty ? nil : dropped)
    }

    /// The rejected video streams of `name`, in the order they were rejected.
    private func rejectedVideo(of name: String) -> [RejectedVideo] {
        rejected.filter { participantOfStream[$0.key] == name }.values.sorted { ($0.fromSeconds, $0.ssrc) < ($1.fromSeconds, $1.ssrc) }
    }

    /// The warning for each rejected stream of `name`.
    private func rejectionWarnings(of name: String) -> [String] {
        rejectedVideo(of: name).map { video in
            "\(name): video stream \(String(format: "%08x", video.ssrc)) at \(String(format: "%.2f", video.fromSeconds)) s \(video.reason): "
                + "its video is not recorded from there (\(video.framesDropped) frames dropped; its audio is)"
        }
    }

    /// Some participant's file waits for a video keyframe to be cut at a segment boundary (`--segment`).
    public var awaitsKeyframe: Bool { remuxers.values.contains { $0.awaitsKeyframe } }

    /// Encodes the composite's video at top speed while `fast` (see ``CompositeRecorder/setFastEncoding(_:)``).
    public func setFastEncoding(_ fast: Bool) throws { try composite?.setFastEncoding(fast) }

    /// Composite frames and audio blocks written so far, and the composite's media time written.
    public var compositeStats: CompositeStats? { composite?.stats }

    /// Finalises every file; returns what was written and what to warn about.
    public func finish() throws -> (outputs: [OutputFile], warnings: [String]) {
        var outputs: [OutputFile] = []
        var warnings: [String] = []
        let segmented = pipeline.segmentSeconds != nil
        for (key, jump) in jumps.sorted(by: { $0.key < $1.key }) {
            if let stream = streams[key] { warnings.append(stream.jumpWarning(jump.first, count: jump.count, originMicros: originMicros)) }
        }
        /// The discontinuities of the streams of `name` (every participant's when nil); nil when none.
        func jumpCount(_ name: String?) -> Int? {
            let count = jumps.filter { name == nil || participantOfStream[$0.key] == name }.reduce(0) { $0 + $1.value.count }
            return count > 0 ? count : nil
        }
        if let composite {
            try composite.finish()
            // Each file runs to the next one's start, the last to the room's end.
            let ends = composite.files.dropFirst().map { Double($0.startMillis) / 1000 } + [composite.stats.durationSeconds]
            for (file, end) in zip(composite.files, ends) {
                let start = Double(file.startMillis) / 1000
                outputs.append(OutputFile(name: "composite", path: file.path, frames: file.frames, durationSeconds: end - start,
                                          startSeconds: segmented ? start : nil, timestampJumps: jumpCount(nil)))
            }
            if composite.stats.decodeErrors > 0 { warnings.append("composite: \(composite.stats.decodeErrors) video frames did not decode and were skipped") }
            if composite.stats.lateFrames > 0 { warnings.append("composite: \(composite.stats.lateFrames) frames arrived after their time was written") }
        }
        for name in order {
            warnings += rejectionWarnings(of: name)
            guard let remuxer = remuxers[name] else { continue }
            if try remuxer.finish() {
                for file in remuxer.files {
                    outputs.append(OutputFile(name: name, path: file.path, frames: file.frames, durationSeconds: Double(file.endMillis) / 1000,
                                              startSeconds: segmented ? remuxer.roomOffsetSeconds + Double(file.startMillis) / 1000 : nil,
                                              video: recordedVideo(name), timestampJumps: jumpCount(name)))
                }
            } else {
                warnings.append("\(name): no decodable media, no file written")
            }
            warnings += remuxer.warnings
        }
        return (outputs, warnings)
    }

    /// Closes every file; what was written stays as `.partial` when `keepPartial` (nothing poses
    /// as finished), or is removed.
    public func abort(keepPartial: Bool) {
        composite?.abort(keepPartial: keepPartial)
        for remuxer in remuxers.values { remuxer.abort(keepPartial: keepPartial) }
    }
}
