import SeededRandom
import Media
import RTP

/// One packet of a synthetic room as it would have arrived at a recorder.
public struct SynthPacket: Sendable {
    public var participant: Int
    public var kind: MediaKind
    public var isRTCP: Bool
    public var data: [UInt8]
    public var arrivalMicros: Int64
}

/// Where generated packets go, in arrival order.
public protocol SynthSink: AnyObject {
    func write(_ packet: SynthPacket) throws
    func close() throws
}

/// Generates a synthetic room and hands its packets, in arrival order, to a sink. Media is made
/// one second at a time, so memory stays constant however long the room is.
public final class SynthGenerator {
    public let options: SynthOptions
    private var rng: SplitMix64
    private var senders: [ParticipantSender] = []
    private var pending: [SynthPacket] = []
    /// Counts of what was generated and what the impairments did.
    public private(set) var stats = Stats()

    public struct Stats: Sendable, Equatable {
        public var audioFrames = 0
        public var videoFrames = 0
        public var packetsSent = 0
        public var packetsDropped = 0
        public var packetsDuplicated = 0
        public var packetsReordered = 0
    }

    public init(options: SynthOptions) throws {
        precondition(options.participants >= 1 && options.participants <= 64, "1...64 participants")
        self.options = options
        rng = SplitMix64(seed: options.seed)
        for i in 0..<options.participants {
            senders.append(try ParticipantSender(participant: SynthParticipant(index: i), options: options, rng: &rng))
        }
    }

    /// Generates the whole room into `sink` and closes it.
    public func run(into sink: SynthSink) throws {
        let total = options.seconds
        var windowStart = 0.0
        while windowStart < total {
            let windowEnd = min(windowStart + 1.0, total)
            for i in senders.indices {
                for packet in try senders[i].generate(from: windowStart, to: windowEnd, stats: &stats) {
                    impair(packet)
                }
            }
            try flush(before: options.startMicros + Int64(windowEnd * 1_000_000), into: sink)
            windowStart = windowEnd
        }
        try flush(before: .max, into: sink)
        try sink.close()
    }

    /// Applies loss, duplication, reordering and jitter, then queues what arrives.
    private func impair(_ packet: SynthPacket) {
        if !packet.isRTCP, Double.random(in: 0..<1, using: &rng) < options.loss {
            stats.packetsDropped += 1
            return
        }
        var arriving = packet
        if options.jitterMillis > 0 {
            arriving.arrivalMicros += Int64(Double.random(in: 0...options.jitterMillis, using: &rng) * 1000)
        }
        if !packet.isRTCP, Double.random(in: 0..<1, using: &rng) < options.reorder {
            // Held back long enough to arrive after several later packets.
            arriving.arrivalMicros += Int64.random(in: 15_000...60_000, using: &rng)
            stats.packetsReordered += 1
        }
        pending.append(arriving)
        stats.packetsSent += 1
        if !packet.isRTCP, Double.random(in: 0..<1, using: &rng) < options.duplicate {
            var copy = arriving
            copy.arrivalMicros += Int64.random(in: 0...5_000, using: &rng)
            pending.append(copy)
            stats.packetsDuplicated += 1
        }
    }

    private func flush(before limit: Int64, into sink: SynthSink) throws {
        // Stable sort keeps send order among packets arriving at the same microsecond.
        let ready = pending.enumerated().filter { $0.element.arrivalMicros < limit }
            .sorted { ($0.element.arrivalMicros, $0.offset) < ($1.element.arrivalMicros, $1.offset) }
        for (_, packet) in ready { try sink.write(packet) }
        pending.removeAll { $0.arrivalMicros < limit }
    }
}

/// The sender side of one participant: encoders, packetizers and RTP state for its two streams.
struct ParticipantSender {
    let participant: SynthParticipant
    let options: SynthOptions
    let audioSSRC: UInt32
    let videoSSRC: UInt32
    var audioSeq: UInt16
    var videoSeq: UInt16
    let audioTSBase: UInt32
    let videoTSBase: UInt32
    var audioFrameIndex = 0
    var videoFrameIndex = 0
    var audioPackets: UInt32 = 0
    var audioOctets: UInt32 = 0
    var videoPackets: UInt32 = 0
    var videoOctets: UInt32 = 0
    let opus: OpusEncoder
    /// The video codec this participant sends (`.h264` for the Safari-like ones).
    let videoCodec: Codec
    var vpx: VPXEncoder?
    var h264: H264Encoder?
    var vp8 = VP8Packetizer()
    var vp9 = VP9Packetizer()
    let h264Packetizer = H264Packetizer()
    var currentWidth: Int
    var currentHeight: Int
    var nextReportAt = 0.0

    static let audioPayloadType: UInt8 = 111
    static let frameSamples = 960

    init(participant: SynthParticipant, options: SynthOptions, rng: inout SplitMix64) throws {
        self.participant = participant
        self.options = options
        audioSSRC = UInt32.random(in: 1...UInt32.max, using: &rng)
        videoSSRC = UInt32.random(in: 1...UInt32.max, using: &rng)
        // Start sequence numbers close to the wrap so every room exercises unwrapping.
        audioSeq = UInt16.random(in: 65_000...65_535, using: &rng)
        videoSeq = UInt16.random(in: 65_000...65_535, using: &rng)
        audioTSBase = UInt32.random(in: 0...UInt32.max, using: &rng)
        videoTSBase = UInt32.random(in: 0...UInt32.max, using: &rng)
        opus = try OpusEncoder(sampleRate: 48_000, channels: 1, bitrate: options.audioBitrate)
        currentWidth = options.width
        currentHeight = options.height
        videoCodec = options.videoCodec(of: participant.index)
    }

    /// 96 for VP8, 98 for VP9, 102 for H.264 (what Chrome and Safari offer first).
    var videoPayloadType: UInt8 {
        switch videoCodec {
        case .vp9: 98
        case .h264: 102
        default: 96
        }
    }
    var cname: String { "user-\(participant.userID)" }

    private func isPresent(at t: Double) -> Bool {
        t >= (options.joinAt[participant.index] ?? 0) && t < (options.leaveAt[participant.index] ?? .infinity)
    }

    private func wallMicros(at t: Double) -> Int64 { options.startMicros + Int64((t * 1_000_000).rounded()) }

    /// Media and RTCP sent in [from, to), with send times as arrival (impairment comes later).
    mutating func generate(from start: Double, to end: Double, stats: inout SynthGenerator.Stats) throws -> [SynthPacket] {
        var out: [SynthPacket] = []
        // Audio: 20 ms Opus frames.
        while true {
            let t = Double(audioFrameIndex) * 0.02
            guard t < end else { break }
            defer { audioFrameIndex += 1 }
            guard t >= start, isPresent(at: t) else { continue }
            let pcm = audioFrame(at: audioFrameIndex)
            let encoded = try opus.encode(pcm)
            let first = audioPackets == 0
            let packet = RTPPacket(payloadType: Self.audioPayloadType, sequenceNumber: audioSeq,
                                   timestamp: audioTSBase &+ UInt32(truncatingIfNeeded: audioFrameIndex * Self.frameSamples),
                                   ssrc: audioSSRC, marker: first, payload: encoded)
            audioSeq &+= 1
            audioPackets &+= 1
            audioOctets &+= UInt32(encoded.count)
            stats.audioFrames += 1
            out.append(SynthPacket(participant: participant.index, kind: .audio, isRTCP: false,
                                   data: packet.serialized(), arrivalMicros: wallMicros(at: t)))
        }
        // Video.
        if !options.audioOnly {
            while true {
                let t = Double(videoFrameIndex) / Double(options.fps)
                guard t < end else { break }
                defer { videoFrameIndex += 1 }
                guard t >= start, isPresent(at: t) else { continue }
                out += try videoPackets(at: t, stats: &stats)
            }
        }
        // RTCP: a Sender Report and SDES CNAME for each stream once a second.
        while nextReportAt < end {
            let t = nextReportAt
            nextReportAt += 1
            guard t >= start, isPresent(at: t), audioPackets > 0 else { continue }
            out.append(SynthPacket(participant: participant.index, kind: .audio, isRTCP: true,
                                   data: report(at: t, kind: .audio), arrivalMicros: wallMicros(at: t)))
            if !options.audioOnly, videoPackets > 0 {
                out.append(SynthPacket(participant: participant.index, kind: .video, isRTCP: true,
                                       data: report(at: t, kind: .video), arrivalMicros: wallMicros(at: t)))
            }
        }
        return out
    }

    private func report(at t: Double, kind: MediaKind) -> [UInt8] {
        let audio = kind == .audio
        let sr = SenderReport(ssrc: audio ? audioSSRC : videoSSRC,
                              ntpTimestamp: NTPTime.ntp(fromUnixMicros: wallMicros(at: t)),
                              rtpTimestamp: audio ? audioTSBase &+ UInt32(truncatingIfNeeded: Int((t * 48_000).rounded()))
                                                  : videoTSBase &+ UInt32(truncatingIfNeeded: Int((t * 90_000).rounded())),
                              packetCount: audio ? audioPackets : videoPackets,
                              octetCount: audio ? audioOctets : videoOctets, reports: [])
        let sdes = SDESChunk(ssrc: audio ? audioSSRC : videoSSRC, items: [SDESItem(type: 1, text: cname)])
        return RTCP.serialize([.senderReport(sr), .sourceDescription([sdes])])
    }

    /// 20 ms of this participant's tone, plus a click on flash instants.
    private func audioFrame(at index: Int) -> [Int16] {
        var pcm = sineWave(frequency: participant.toneHz, sampleRate: 48_000, count: Self.frameSamples,
                           startSample: index * Self.frameSamples, amplitude: options.toneAmplitude)
        if let every = options.flashEvery {
            let period = Int((every * 48_000).rounded())
            let frameStart = index * Self.frameSamples
            // A 2 ms click: one period of a 500 Hz square wave, loud enough to stand far above the tone.
            for n in 0..<Self.frameSamples where (frameStart + n) % period < 96 {
                pcm[n] = (frameStart + n) % period < 48 ? 29_000 : -29_000
            }
        }
        return pcm
    }

    private mutating func videoPackets(at t: Double, stats: inout SynthGenerator.Stats) throws -> [SynthPacket] {
        var width = options.width
        var height = options.height
        if let change = options.resolutionChangeAt, t >= change {
            width = (options.width / 2 + 1) & ~1
            height = (options.height / 2 + 1) & ~1
        }
        // A new size takes a new encoder, whose first picture is a keyframe with the new size (an IDR with a new SPS for H.264).
        let needsEncoder = videoCodec == .h264 ? h264 == nil : vpx == nil
        if needsEncoder || width != currentWidth || height != currentHeight {
            if videoCodec == .h264 {
                h264 = try H264Encoder(H264Encoder.Settings(width: width, height: height, fps: options.fps,
                                                            bitrateKbps: options.videoBitrateKbps,
                                                            keyframeInterval: options.keyframeInterval, threads: 1))
            } else {
                var settings = VPXEncoder.Settings(codec: videoCodec, width: width, height: height)
                settings.fps = options.fps
                settings.bitrateKbps = options.videoBitrateKbps
                settings.keyframeInterval = options.keyframeInterval
                settings.threads = 1
                vpx = try VPXEncoder(settings)
            }
            currentWidth = width
            currentHeight = height
        }
        let picture = SynthPicture.make(participant: participant, width: width, height: height, time: t,
                                        flash: options.flashEvery.map { every in t.truncatingRemainder(dividingBy: every) < 0.5 / Double(options.fps) } ?? false)
        var out: [SynthPacket] = []
        let timestamp = videoTSBase &+ UInt32(truncatingIfNeeded: Int((t * 90_000).rounded()))
        let encodedPictures = videoCodec == .h264 ? try h264!.encode(picture, pts: Int64(videoFrameIndex))
                                                  : try vpx!.encode(picture, pts: Int64(videoFrameIndex))
        for var encoded in encodedPictures {
            stats.videoFrames += 1
            // A hostile stream: the keyframe's header (and a VP9 scalability structure) declares another size.
            var declared = (width: width, height: height)
            if let forged = options.declaredSize[participant.index], t >= forged.from, encoded.isKeyframe,
               let data = PictureSizeForgery.declaring(forged.size, in: encoded.data, codec: videoCodec) {
                encoded.data = data
                declared = (forged.size.width, forged.size.height)
            }
            // The marker goes on the last packet of the picture (the H.264 access unit).
            let payloads = switch videoCodec {
            case .h264: h264Packetizer.payloads(forAnnexB: encoded.data)
            case .vp9: vp9.payloads(for: encoded.data, isKeyframe: encoded.isKeyframe, width: declared.width, height: declared.height)
            default: vp8.payloads(for: encoded.data, isKeyframe: encoded.isKeyframe)
            }
            for (i, payload) in payloads.enumerated() {
                let packet = RTPPacket(payloadType: videoPayloadType, sequenceNumber: videoSeq, timestamp: timestamp,
                                       ssrc: videoSSRC, marker: i == payloads.count - 1, payload: payload)
                videoSeq &+= 1
                videoPackets &+= 1
                videoOctets &+= UInt32(payload.count)
                out.append(SynthPacket(participant: participant.index, kind: .video, isRTCP: false,
                                       data: packet.serialized(), arrivalMicros: wallMicros(at: t)))
            }
        }
        return out
    }
}

/// The picture of a synthetic participant: its colour, a white marker square that crosses the
/// picture every two seconds, and an all-white flash on sync instants.
public enum SynthPicture {
    public static func make(participant: SynthParticipant, width: Int, height: Int, time: Double, flash: Bool) -> I420Frame {
        if flash { return I420Frame(width: width, height: height, y: 235, u: 128, v: 128) }
        var frame = I420Frame(width: width, height: height, y: participant.y, u: participant.u, v: participant.v)
        let side = max(2, height / 6) & ~1
        let phase = time.truncatingRemainder(dividingBy: 2) / 2
        let x = Int(phase * Double(width - side)) & ~1
        let y = (height - side) / 2 & ~1
        for row in y..<(y + side) {
            for col in x..<(x + side) { frame.y[row * width + col] = 235 }
        }
        for row in (y / 2)..<((y + side) / 2) {
            for col in (x / 2)..<((x + side) / 2) {
                frame.u[row * frame.chromaWidth + col] = 128
                frame.v[row * frame.chromaWidth + col] = 128
            }
        }
        return frame
    }

    /// Where the marker is at `time`: the rectangle a test should skip when measuring the colour.
    public static func markerColumns(width: Int, height: Int, time: Double) -> Range<Int> {
        let side = max(2, height / 6) & ~1
        let x = Int(time.truncatingRemainder(dividingBy: 2) / 2 * Double(width - side)) & ~1
        return x..<(x + side)
    }
}
