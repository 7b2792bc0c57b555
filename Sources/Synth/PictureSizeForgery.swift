import Media

/// Hostile streams for tests (`synth --declare-size`): a keyframe whose bitstream header declares a
/// picture size other than the one encoded, as a broken or malicious sender would send it. The
/// picture data stays as encoded; only the header's size fields change.
public enum PictureSizeForgery {
    /// `frame` with its header declaring `size`: a VP8 keyframe (at most 16383×16383), a VP9 keyframe
    /// (at most 65536×65536), or an H.264 access unit whose SPS units are rewritten (sizes in whole
    /// macroblocks, no cropping kept). Nil when `frame` has no such header.
    public static func declaring(_ size: PictureSize, in frame: [UInt8], codec: Codec) -> [UInt8]? {
        switch codec {
        case .vp8:
            guard VP8Depacketizer.keyframeSize(frame[...]) != nil, size.width < 1 << 14, size.height < 1 << 14 else { return nil }
            var out = frame
            out[6] = UInt8(size.width & 0xFF)
            out[7] = out[7] & 0xC0 | UInt8(size.width >> 8)   // the top two bits are the horizontal scale
            out[8] = UInt8(size.height & 0xFF)
            out[9] = out[9] & 0xC0 | UInt8(size.height >> 8)
            return out
        case .vp9:
            guard let offset = VP9FrameHeader(parsing: frame[...])?.sizeBitOffset, size.width <= 1 << 16, size.height <= 1 << 16 else { return nil }
            var bits = Bits(frame[...])
            bits.replace(offset..<(offset + 32), with: Bits(value: size.width - 1, count: 16) + Bits(value: size.height - 1, count: 16))
            return bits.bytes
        case .h264:
            var rewrote = false
            let units: [[UInt8]] = AnnexB.nalUnits(in: frame).map { nal in
                guard let sps = H264SPS(nal: nal), let fields = sps.sizeFieldBits else { return Array(nal) }
                var bits = Bits(H264BitReader.rbsp(nal.dropFirst())[...])
                bits.replace(fields, with: Bits(expGolomb: (size.width + 15) / 16 - 1) + Bits(expGolomb: (size.height + 15) / 16 - 1))
                bits.dropTrailingZeros()  // the stop bit ends the RBSP again, then alignment
                rewrote = true
                return [nal.first!] + H264BitReader.escaped(bits.bytes)
            }
            return rewrote ? AnnexB.join(units) : nil
        case .opus:
            return nil
        }
    }
}

/// A bit string, MSB first, for splicing header fields of different lengths.
private struct Bits {
    var values: [Bool]

    init(_ bytes: ArraySlice<UInt8>) { values = bytes.flatMap { byte in (0..<8).map { byte >> (7 - $0) & 1 == 1 } } }
    init(value: Int, count: Int) { values = (0..<count).map { value >> (count - 1 - $0) & 1 == 1 } }
    /// ue(v): the value plus one in binary, after as many zeros as it has bits less one.
    init(expGolomb value: Int) {
        let coded = Bits(value: value + 1, count: Int.bitWidth - (value + 1).leadingZeroBitCount)
        values = [Bool](repeating: false, count: coded.values.count - 1) + coded.values
    }
    private init(values: [Bool]) { self.values = values }

    static func + (a: Bits, b: Bits) -> Bits { Bits(values: a.values + b.values) }

    mutating func replace(_ range: Range<Int>, with other: Bits) { values.replaceSubrange(range, with: other.values) }

    mutating func dropTrailingZeros() {
        while values.last == false { values.removeLast() }
    }

    /// Padded with zero bits to whole bytes.
    var bytes: [UInt8] {
        stride(from: 0, to: values.count, by: 8).map { start in
            (0..<8).reduce(UInt8(0)) { byte, i in byte << 1 | (start + i < values.count && values[start + i] ? 1 : 0) }
        }
    }
}
