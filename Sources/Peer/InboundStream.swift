import Media
import RTP

/// One incoming media SSRC of a receiving peer: its reception statistics (for receiver reports),
/// its NACK scheduling when the sender takes NACK, and when it last asked for a keyframe.
struct InboundStream {
    let ssrc: UInt32
    let codec: Codec
    let payloadType: UInt8
    /// The m-line the stream arrives on (from the offer's `a=ssrc` lines or the MID header extension).
    var mid: String?
    /// The simulcast layer (RFC 8852 rid) it carries, when the sender named one.
    var rid: String?
    /// When its latest packet came.
    var lastArrivalMicros: Int64 = .min
    var statistics: ReceptionStatistics
    /// Present when the sender takes Generic NACK for this payload type.
    var nacks: NackGenerator?
    var lastKeyframeRequestMicros: Int64?
    /// Video only, until a keyframe has come (at the start, and again after a loss NACK could not
    /// repair): a depacketizer that recognises one. While it is set, keyframe requests repeat.
    private(set) var keyframeWatch: (any Depacketizer)?
    private var sequences = SequenceUnwrapper()
    private var timestamps = TimestampUnwrapper()
    var firSequence: UInt8 = 0
    /// Packets that arrived, and those that arrived through RTX after being asked for.
    var packets = 0
    var repaired = 0

    init(ssrc: UInt32, codec: Codec, payloadType: UInt8, nack: Bool) {
        self.ssrc = ssrc
        self.codec = codec
        self.payloadType = payloadType
        statistics = ReceptionStatistics(ssrc: ssrc, clockRate: codec.clockRate)
        nacks = nack ? NackGenerator() : nil
        if codec.kind == .video { keyframeWatch = makeDepacketizer(for: codec) }
    }

    /// Whether the stream waits for a keyframe (so keyframe requests should go on).
    var awaitsKeyframe: Bool { keyframeWatch != nil }

    /// The picture in progress is gone for good: watch for the next keyframe again.
    mutating func keyframeNeeded() {
        if codec.kind == .video, keyframeWatch == nil { keyframeWatch = makeDepacketizer(for: codec) }
    }

    /// Records a packet (original or repaired). Returns false for a packet that repairs nothing and
    /// came through RTX (a duplicate retransmission), which is not worth delivering twice.
    mutating func received(_ packet: RTPPacket, viaRTX: Bool, nowMicros: Int64) -> Bool {
        let repairedOne = nacks?.received(sequenceNumber: packet.sequenceNumber, nowMicros: nowMicros) ?? false
        if viaRTX {
            guard repairedOne else { return false }
            repaired += 1
        } else {
            // Jitter and loss statistics describe the original stream; retransmissions would skew them.
            statistics.received(sequenceNumber: packet.sequenceNumber, timestamp: packet.timestamp, arrivalMicros: nowMicros)
        }
        packets += 1
        lastArrivalMicros = nowMicros
        if var watch = keyframeWatch {
            let ordered = OrderedPacket(packet: packet, sequence: sequences.unwrap(packet.sequenceNumber),
                                        timestamp: timestamps.unwrap(packet.timestamp), arrivalMicros: nowMicros)
            keyframeWatch = watch.push(ordered).contains(where: \.isKeyframe) ? nil : watch
        }
        return true
    }

    /// Whether a keyframe may be asked for now (at most one request per `interval`).
    mutating func mayRequestKeyframe(nowMicros: Int64, interval: Int64) -> Bool {
        if let last = lastKeyframeRequestMicros, nowMicros - last < interval { return false }
        lastKeyframeRequestMicros = nowMicros
        return true
    }
}

/// RTX (RFC 4588 §4): the original packet inside a retransmission — the original sequence number
/// is the first two payload bytes; payload type and SSRC are the repaired stream's.
enum RTXUnwrap {
    /// The original packet, or nil for an RTX packet that carries no media (a padding probe).
    static func original(of rtx: RTPPacket, payloadType: UInt8, ssrc: UInt32) -> RTPPacket? {
        let payload = rtx.payload
        guard payload.count > 2 else { return nil }
        var packet = rtx
        packet.payloadType = payloadType
        packet.ssrc = ssrc
        packet.sequenceNumber = UInt16(payload[payload.startIndex]) << 8 | UInt16(payload[payload.startIndex + 1])
        packet.payload = payload.dropFirst(2)
        packet.paddingLength = 0
        return packet
    }
}
