import Media

/// Reads what the track decoder needs from an Opus packet without decoding it: the duration of one
/// Opus frame (what in-band FEC can recover) and whether the packet carries LBRR (FEC) data.
///
/// libopus 1.3 has no `opus_packet_has_lbrr` (added in 1.5), so the LBRR flag is read directly:
/// RFC 6716 §4.2.3, the SILK layer of a SILK-only or hybrid frame begins with, per coded channel,
/// one VAD flag per 20 ms SILK frame and then the LBRR flag, each a range-coded bit of
/// probability ½ (`ec_dec_bit_logp(dec, 1)`).
enum OpusPacketProbe {
    /// The byte range of the first Opus frame in `packet` (RFC 6716 §3.2), nil when malformed.
    static func firstFrame(_ packet: [UInt8]) -> Range<Int>? {
        guard let toc = packet.first else { return nil }
        let n = packet.count
        switch toc & 3 {
        case 0:
            return 1..<n
        case 1:
            guard (n - 1) % 2 == 0 else { return nil }
            return 1..<(1 + (n - 1) / 2)
        case 2:
            guard let (len, used) = frameLength(packet, at: 1), 1 + used + len <= n else { return nil }
            return (1 + used)..<(1 + used + len)
        default:
            guard n >= 2 else { return nil }
            let countByte = packet[1]
            let count = Int(countByte & 0x3F)
            guard count > 0 else { return nil }
            var pos = 2
            var padding = 0
            if countByte & 0x40 != 0 {
                while true {
                    guard pos < n else { return nil }
                    let b = Int(packet[pos]); pos += 1
                    padding += b == 255 ? 254 : b
                    if b != 255 { break }
                }
            }
            if countByte & 0x80 != 0 {  // VBR: the first frame's length comes first
                guard let (len, used) = frameLength(packet, at: pos) else { return nil }
                // Skip the remaining count-2 lengths.
                var p = pos + used
                for _ in 0..<max(0, count - 2) {
                    guard let (_, u) = frameLength(packet, at: p) else { return nil }
                    p += u
                }
                guard p + len <= n - padding else { return nil }
                return p..<(p + len)
            } else {
                let payload = n - pos - padding
                guard payload >= 0, payload % count == 0 else { return nil }
                return pos..<(pos + payload / count)
            }
        }
    }

    /// A frame length field (1 or 2 bytes) at `index`: (length, bytes used).
    private static func frameLength(_ packet: [UInt8], at index: Int) -> (Int, Int)? {
        guard index < packet.count else { return nil }
        let b0 = Int(packet[index])
        if b0 < 252 { return (b0, 1) }
        guard index + 1 < packet.count else { return nil }
        return (b0 + 4 * Int(packet[index + 1]), 2)
    }

    /// True when the packet's first frame carries LBRR data for the previous frame (in-band FEC).
    /// Always false for CELT-only packets, which have no SILK layer.
    static func hasLBRR(_ packet: [UInt8]) -> Bool {
        guard let toc = packet.first, toc >> 3 < 16, let frame = firstFrame(packet), !frame.isEmpty else {
            return false
        }
        let stereo = toc & 0x04 != 0
        let silkFrames = max(1, OpusPacketInfo.frameSampleCount(toc: toc) / 960)
        var dec = RangeDecoder(packet, frame)
        for _ in 0..<(stereo ? 2 : 1) {
            for _ in 0..<silkFrames { _ = dec.bitLogp1() }
            if dec.bitLogp1() { return true }
        }
        return false
    }
}

/// The start of libopus' range decoder (celt/entdec.c), enough to read equiprobable bits.
private struct RangeDecoder {
    private let bytes: [UInt8]
    private var offset: Int
    private let end: Int
    private var rng: UInt32
    private var val: UInt32
    private var rem: UInt32

    init(_ bytes: [UInt8], _ range: Range<Int>) {
        self.bytes = bytes
        self.offset = range.lowerBound
        self.end = range.upperBound
        rng = 1 << 7  // 1 << EC_CODE_EXTRA
        rem = 0
        val = 0
        rem = readByte()
        val = rng - 1 - (rem >> 1)
        normalize()
    }

    private mutating func readByte() -> UInt32 {
        guard offset < end else { return 0 }
        defer { offset += 1 }
        return UInt32(bytes[offset])
    }

    private mutating func normalize() {
        while rng <= 1 << 23 {  // EC_CODE_BOT
            rng <<= 8
            let sym = rem
            rem = readByte()
            let combined = ((sym << 8) | rem) >> 1
            val = ((val << 8) &+ (255 & ~combined)) & ((1 << 31) - 1)
        }
    }

    /// `ec_dec_bit_logp(dec, 1)`.
    mutating func bitLogp1() -> Bool {
        let s = rng >> 1
        let bit = val < s
        if bit {
            rng = s
        } else {
            val -= s
            rng -= s
        }
        normalize()
        return bit
    }
}
