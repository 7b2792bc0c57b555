import Media
import RTP

/// One stream of RTP payloads through a depacketizer, in sequence order with losses.
///
/// Input: byte 0 picks the codec (Opus, VP8, VP9, H.264); then records of a flags byte
/// (bit 0 marker, bit 1 a lost packet before this one, bits 2–3 the timestamp step: 0, 1,
/// 3000, 90000 ticks) and a 16-bit little-endian payload length, then the payload.
/// Each payload also goes through the codec's descriptor and header parsers, and each frame
/// through the frame-level parsers (the decoders themselves are not fuzzed here).
enum DepacketizerFuzz {
    static func run(_ data: [UInt8]) {
        guard let first = data.first else { return }
        let codec = [Codec.opus, .vp8, .vp9, .h264][Int(first % 4)]
        var depacketizer = makeDepacketizer(for: codec)
        var sequence: Int64 = 65_530
        var timestamp: Int64 = 4_294_967_000
        var arrival: Int64 = 0
        var i = 1
        while i + 3 <= data.count {
            let flags = data[i]
            let length = min(Int(data[i + 1]) | Int(data[i + 2]) << 8, data.count - i - 3)
            let payload = Array(data[(i + 3)..<(i + 3 + length)])
            i += 3 + length
            if flags & 2 != 0 {
                check(depacketizer.lost(firstSequence: sequence, count: 1), codec)
                sequence += 1
            }
            timestamp += [0, 1, 3000, 90_000][Int(flags >> 2 & 3)]
            arrival += 1000
            parsePayload(payload[...], codec)
            let packet = RTPPacket(payloadType: 96, sequenceNumber: UInt16(truncatingIfNeeded: sequence),
                                   timestamp: UInt32(truncatingIfNeeded: timestamp), ssrc: 0x1234,
                                   marker: flags & 1 != 0, payload: payload)
            check(depacketizer.push(OrderedPacket(packet: packet, sequence: sequence, timestamp: timestamp,
                                                  arrivalMicros: arrival)), codec)
            sequence += 1
        }
        check(depacketizer.flush(), codec)
        _ = depacketizer.stats
    }

    static func parsePayload(_ p: ArraySlice<UInt8>, _ codec: Codec) {
        switch codec {
        case .opus:
            _ = OpusDepacketizer.isValidPacket(p)
            _ = OpusPacketInfo.sampleCount(Array(p))
            _ = OpusPacketInfo.isStereo(Array(p))
        case .vp8: _ = VP8Descriptor(parsing: p)
        case .vp9: _ = VP9Descriptor(parsing: p)
        case .h264: _ = AnnexB.nalUnits(in: p)
        }
    }

    static func check(_ frames: [EncodedFrame], _ codec: Codec) {
        for frame in frames {
            precondition(frame.codec == codec, "a \(codec) depacketizer returned a \(frame.codec) frame")
            let data = frame.data[...]
            switch codec {
            case .opus: _ = OpusPacketInfo.sampleCount(frame.data)
            case .vp8: _ = VP8Depacketizer.keyframeSize(data)
            case .vp9:
                for part in VP9Superframe.split(data) ?? [data] { _ = VP9FrameHeader(parsing: part) }
            case .h264:
                for nal in AnnexB.nalUnits(in: data) where nal.first.map({ $0 & 0x1F }) == 7 { _ = H264SPS(nal: nal) }
            }
        }
    }
}
