/// H.264 bitstream helpers shared by the depacketizer, the packetizer and the tests:
/// Annex B framing, NAL unit types, and the few SPS fields a recorder needs (picture size).

/// NAL unit types (ITU-T H.264 table 7-1) and the RTP-only ones of RFC 6184 (24-29).
public enum H264NALType {
    public static let slice: UInt8 = 1
    public static let idrSlice: UInt8 = 5
    public static let sei: UInt8 = 6
    public static let sps: UInt8 = 7
    public static let pps: UInt8 = 8
    public static let accessUnitDelimiter: UInt8 = 9
    public static let stapA: UInt8 = 24
    public static let stapB: UInt8 = 25
    public static let mtap16: UInt8 = 26
    public static let mtap24: UInt8 = 27
    public static let fuA: UInt8 = 28
    public static let fuB: UInt8 = 29

    /// Coded slice NAL units (1-5): the picture data itself.
    @inline(__always) public static func isVCL(_ type: UInt8) -> Bool { type >= 1 && type <= 5 }
}

/// Annex B byte stream (ITU-T H.264 annex B): NAL units each preceded by a `00 00 01` or `00 00 00 01` start code.
public enum AnnexB {
    /// The 4-byte start code flowrec writes before every NAL unit.
    public static let startCode: [UInt8] = [0, 0, 0, 1]

    /// The NAL units of a byte stream, without start codes and without trailing zero bytes
    /// (`trailing_zero_8bits`). Bytes before the first start code are ignored; empty units are skipped.
    public static func nalUnits(in stream: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var units: [ArraySlice<UInt8>] = []
        let end = stream.endIndex
        var i = stream.startIndex
        var unitStart: Int? = nil
        func close(_ upTo: Int) {
            guard let s = unitStart else { return }
            var e = upTo
            while e > s && stream[e - 1] == 0 { e -= 1 }
            if e > s { units.append(stream[s..<e]) }
        }
        while i + 2 < end {
            if stream[i + 2] > 1 {
                i += 3
            } else if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
                close(i)
                unitStart = i + 3
                i += 3
            } else {
                i += 1
            }
        }
        close(end)
        return units
    }

    public static func nalUnits(in stream: [UInt8]) -> [ArraySlice<UInt8>] { nalUnits(in: stream[...]) }

    /// Joins NAL units into a byte stream with 4-byte start codes.
    public static func join<S: Sequence>(_ units: S) -> [UInt8] where S.Element: Collection, S.Element.Element == UInt8 {
        var out: [UInt8] = []
        for u in units {
            out += startCode
            out += u
        }
        return out
    }
}

/// Reads bits MSB-first from an RBSP (emulation prevention bytes already removed). Every read returns nil
/// past the end, so malformed input can only fail, never trap.
package struct H264BitReader {
    private let bytes: [UInt8]
    /// Bits read so far.
    private(set) var bit = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func u1() -> Int? {
        guard bit < bytes.count * 8 else { return nil }
        let v = Int(bytes[bit >> 3] >> (7 - UInt8(bit & 7))) & 1
        bit += 1
        return v
    }

    mutating func u(_ n: Int) -> Int? {
        var v = 0
        for _ in 0..<n {
            guard let b = u1() else { return nil }
            v = v << 1 | b
        }
        return v
    }

    /// Unsigned exp-Golomb (ue(v)); nil past the end or beyond 31 leading zeros.
    mutating func ue() -> Int? {
        var zeros = 0
        while true {
            guard let b = u1() else { return nil }
            if b == 1 { break }
            zeros += 1
            if zeros > 31 { return nil }
        }
        guard let rest = u(zeros) else { return nil }
        return (1 << zeros) - 1 + rest
    }

    /// Signed exp-Golomb (se(v)).
    mutating func se() -> Int? {
        guard let k = ue() else { return nil }
        return k & 1 == 1 ? (k + 1) / 2 : -(k / 2)
    }

    /// Removes emulation prevention bytes (`00 00 03` → `00 00`).
    package static func rbsp(_ nal: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(nal.count)
        var zeros = 0
        for b in nal {
            if zeros >= 2 && b == 3 {
                zeros = 0
                continue
            }
            zeros = b == 0 ? zeros + 1 : 0
            out.append(b)
        }
        return out
    }

    /// Adds emulation prevention bytes (`00 00 0x` with x ≤ 3 → `00 00 03 0x`): the inverse of ``rbsp(_:)``.
    package static func escaped(_ rbsp: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(rbsp.count + rbsp.count / 64)
        var zeros = 0
        for b in rbsp {
            if zeros >= 2 && b <= 3 {
                out.append(3)
                zeros = 0
            }
            zeros = b == 0 ? zeros + 1 : 0
            out.append(b)
        }
        return out
    }
}

/// The fields of a sequence parameter set (ITU-T H.264 §7.3.2.1.1) up to the frame cropping,
/// which give the displayed picture size.
public struct H264SPS: Sendable, Equatable {
    public var profileIdc: Int
    public var levelIdc: Int
    public var id: Int
    /// 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4.
    public var chromaFormatIdc: Int
    /// Displayed size: macroblocks minus the cropping rectangle.
    public var width: Int
    public var height: Int
    /// Where `pic_width_in_mbs_minus1` and `pic_height_in_map_units_minus1` lie, in bits of the RBSP
    /// after the NAL header byte.
    package var sizeFieldBits: Range<Int>?

    /// Parses a whole SPS NAL unit (header byte included, emulation prevention still in); nil when it is not
    /// an SPS, is truncated, or states an impossible size.
    public init?(nal: ArraySlice<UInt8>) {
        guard let header = nal.first, header & 0x1F == H264NALType.sps else { return nil }
        var r = H264BitReader(H264BitReader.rbsp(nal.dropFirst()))
        guard let profile = r.u(8), r.u(8) != nil, let level = r.u(8), let spsID = r.ue(), spsID <= 31 else { return nil }
        var chromaFormat = 1
        var separateColourPlane = false
        if [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].contains(profile) {
            guard let cf = r.ue(), cf <= 3 else { return nil }
            chromaFormat = cf
            if cf == 3 {
                guard let s = r.u1() else { return nil }
                separateColourPlane = s == 1
            }
            guard let depthLuma = r.ue(), depthLuma <= 6, let depthChroma = r.ue(), depthChroma <= 6,
                  r.u1() != nil, let scalingMatrix = r.u1() else { return nil }
            if scalingMatrix == 1 {
                for i in 0..<(cf != 3 ? 8 : 12) {
                    guard let present = r.u1() else { return nil }
                    guard present == 1 else { continue }
                    // scaling_list(): only parsed to get past it.
                    var last = 8, next = 8
                    for _ in 0..<(i < 6 ? 16 : 64) {
                        if next != 0 {
                            guard let delta = r.se(), delta >= -128, delta <= 127 else { return nil }
                            next = (last + delta + 256) % 256
                        }
                        last = next == 0 ? last : next
                    }
                }
            }
        }
        guard let log2MaxFrameNum = r.ue(), log2MaxFrameNum <= 12, let pocType = r.ue() else { return nil }
        switch pocType {
        case 0:
            guard let l = r.ue(), l <= 12 else { return nil }
        case 1:
            guard r.u1() != nil, r.se() != nil, r.se() != nil, let cycle = r.ue(), cycle <= 255 else { return nil }
            for _ in 0..<cycle { guard r.se() != nil else { return nil } }
        case 2:
            break
        default:
            return nil
        }
        guard r.ue() != nil, r.u1() != nil else { return nil }              // max_num_ref_frames, gaps_in_frame_num
        let sizeStart = r.bit
        guard let widthMbs = r.ue(), let heightMapUnits = r.ue() else { return nil }
        sizeFieldBits = sizeStart..<r.bit
        guard let frameMbsOnly = r.u1() else { return nil }
        if frameMbsOnly == 0 { guard r.u1() != nil else { return nil } } // mb_adaptive_frame_field_flag
        guard r.u1() != nil, let cropping = r.u1() else { return nil }     // direct_8x8_inference_flag
        // Beyond any level's limit, but parsed: the caller's picture bound (`PictureSizeLimit`) must see them.
        guard widthMbs < 1 << 16, heightMapUnits < 1 << 16 else { return nil }
        var w = (widthMbs + 1) * 16
        var h = (2 - frameMbsOnly) * (heightMapUnits + 1) * 16
        if cropping == 1 {
            guard let left = r.ue(), let right = r.ue(), let top = r.ue(), let bottom = r.ue() else { return nil }
            let chromaArrayType = separateColourPlane ? 0 : chromaFormat
            let cropX = chromaArrayType == 0 || chromaArrayType == 3 ? 1 : 2
            let cropY = (chromaArrayType == 1 ? 2 : 1) * (2 - frameMbsOnly)
            guard left < 1 << 16, right < 1 << 16, top < 1 << 16, bottom < 1 << 16 else { return nil }
            w -= (left + right) * cropX
            h -= (top + bottom) * cropY
        }
        guard w > 0, h > 0 else { return nil }
        profileIdc = profile
        levelIdc = level
        id = spsID
        chromaFormatIdc = chromaFormat
        width = w
        height = h
    }
}
