import Media
import RTP

/// Guesses a stream's codec from its first packets when no SDP, `--pt` or file header says.
///
/// Video is recognised by running the real depacketizers (VP8, VP9, H.264) over the sample: a keyframe
/// of plausible size settles it. Without a keyframe in the sample, the payload descriptors'
/// structure decides (VP8 `S` bit on the first packet of each picture, VP9 `B`/`E` bits on the
/// first/last, H.264 NAL unit types), and Opus is a stream of one packet per timestamp whose
/// TOC byte keeps one configuration.
public struct CodecSniffer: Sendable {
    /// How many packets of a stream are kept for sniffing.
    public static let sampleSize = 48

    private var packets: [RTPPacket] = []

    public init() {}

    /// Whether more packets would still be looked at.
    public var wantsMore: Bool { packets.count < Self.sampleSize }

    /// Adds one packet of the stream (first `sampleSize` kept).
    public mutating func add(_ packet: RTPPacket) {
        if wantsMore { packets.append(packet) }
    }

    /// The best guess, or nil when nothing fits well.
    public func guess() -> Codec? {
        guard packets.count >= 2 else { return nil }
        var ordered = packets
        var unwrap = SequenceUnwrapper()
        let sequences = ordered.map { unwrap.unwrap($0.sequenceNumber) }
        // In sequence order, duplicates removed: the sample may come from a lossy, reordered capture.
        var seen: Set<Int64> = []
        ordered = zip(sequences, ordered).sorted { $0.0 < $1.0 }.filter { seen.insert($0.0).inserted }.map(\.1)
        guard ordered.count >= 2 else { return nil }

        // H.264 last: its keyframe needs an SPS that parses to a plausible size, a PPS and an IDR slice, which
        // VP8/VP9 payload descriptors do not make by accident.
        for codec in [Codec.vp8, .vp9, .h264] where hasPlausibleKeyframe(ordered, codec: codec) { return codec }

        var scores: [(Codec, Double)] = [
            (.vp8, vp8Structure(ordered)), (.vp9, vp9Structure(ordered)),
            (.h264, h264Structure(ordered)), (.opus, opusStructure(ordered)),
        ]
        scores.sort { $0.1 > $1.1 }
        return scores[0].1 >= 0.9 ? scores[0].0 : nil
    }

    private func hasPlausibleKeyframe(_ packets: [RTPPacket], codec: Codec) -> Bool {
        var depacketizer = makeDepacketizer(for: codec)
        var unwrapSeq = SequenceUnwrapper()
        var unwrapTS = TimestampUnwrapper()
        for packet in packets {
            let ordered = OrderedPacket(packet: packet, sequence: unwrapSeq.unwrap(packet.sequenceNumber),
                                        timestamp: unwrapTS.unwrap(packet.timestamp), arrivalMicros: 0)
            for frame in depacketizer.push(ordered) where frame.isKeyframe {
                if let w = frame.width, let h = frame.height, (16...8192).contains(w), (16...8192).contains(h) { return true }
            }
        }
        return false
    }

    /// Packets grouped into pictures by timestamp: (first packet, last packet) index pairs.
    private func pictures(_ packets: [RTPPacket]) -> [Range<Int>] {
        var groups: [Range<Int>] = []
        var start = 0
        for i in 1...packets.count where i == packets.count || packets[i].timestamp != packets[start].timestamp {
            groups.append(start..<i)
            start = i
        }
        return groups
    }

    /// Video pictures end with the RTP marker bit on their last packet, and only there.
    private func markerFits(_ packets: [RTPPacket], _ i: Int, _ group: Range<Int>) -> Bool {
        packets[i].marker == (i == group.upperBound - 1)
    }

    private func vp8Structure(_ packets: [RTPPacket]) -> Double {
        var good = 0
        for group in pictures(packets) {
            for i in group {
                guard let b0 = packets[i].payload.first else { continue }
                let reservedClear = b0 & 0x48 == 0
                let start = b0 & 0x10 != 0 && b0 & 0x07 == 0
                if reservedClear && start == (i == group.lowerBound) && markerFits(packets, i, group) { good += 1 }
            }
        }
        return Double(good) / Double(packets.count)
    }

    private func vp9Structure(_ packets: [RTPPacket]) -> Double {
        var good = 0
        for group in pictures(packets) {
            for i in group {
                guard let b0 = packets[i].payload.first else { continue }
                let begin = b0 & 0x08 != 0
                let end = b0 & 0x04 != 0
                // Without spatial layers a picture is one layer frame: B on the first packet, E on the last.
                if begin == (i == group.lowerBound) && end == (i == group.upperBound - 1) && markerFits(packets, i, group) {
                    good += 1
                }
            }
        }
        // Descriptors of a single-packet picture look alike in VP9 and VP8 terms; demand multi-packet evidence.
        return Double(good) / Double(packets.count) - (pictures(packets).count == packets.count ? 0.2 : 0)
    }

    private func h264Structure(_ packets: [RTPPacket]) -> Double {
        var good = 0
        for group in pictures(packets) {
            for i in group {
                let payload = packets[i].payload
                guard let b0 = payload.first, b0 & 0x80 == 0, markerFits(packets, i, group) else { continue }
                let type = b0 & 0x1F
                if type == 28 {
                    // FU-A: start bit on the picture's first packet... of each NAL unit; end bit with the marker.
                    guard payload.count > 1 else { continue }
                    let fu = payload[payload.startIndex + 1]
                    if fu & 0x20 == 0, packets[i].marker ? fu & 0x40 != 0 : true { good += 1 }
                } else if (1...23).contains(type) || type == 24 {
                    good += 1
                }
            }
        }
        return Double(good) / Double(packets.count) - 0.05
    }

    /// Opus: one packet per timestamp, and the timestamp advances by what the TOC says the packet
    /// holds (RFC 7587 §4.1), except across DTX gaps.
    private func opusStructure(_ packets: [RTPPacket]) -> Double {
        guard pictures(packets).count == packets.count else { return 0 }
        var fitting = 0
        for i in 1..<packets.count {
            let step = Int(packets[i].timestamp &- packets[i - 1].timestamp)
            if let samples = OpusPacketInfo.sampleCount(Array(packets[i - 1].payload)), step == samples { fitting += 1 }
        }
        return Double(fitting) / Double(packets.count - 1) + 0.02
    }
}
