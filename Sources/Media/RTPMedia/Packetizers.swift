/// RFC 7587: an Opus packet goes into one RTP payload unchanged.
public struct OpusPacketizer: Sendable {
    public init() {}
    public func payloads(for frame: [UInt8]) -> [[UInt8]] { [frame] }
}

/// Splits `count` bytes into `parts` chunks whose sizes differ by at most one.
func balancedChunks(_ count: Int, maxChunk: Int) -> [Range<Int>] {
    let maxChunk = max(1, maxChunk)
    let parts = max(1, (count + maxChunk - 1) / maxChunk)
    var out: [Range<Int>] = []
    out.reserveCapacity(parts)
    var start = 0
    for k in 0..<parts {
        let size = count / parts + (k < count % parts ? 1 : 0)
        out.append(start..<(start + size))
        start += size
    }
    return out
}

/// RFC 7741 VP8 packetizer: descriptor with X, I and a 15-bit PictureID; S=1 on the first packet, PID 0.
/// Put the RTP marker bit on the last payload.
public struct VP8Packetizer: Sendable {
    public let maxPayloadSize: Int
    public private(set) var pictureID: UInt16

    public init(maxPayloadSize: Int = 1200, initialPictureID: UInt16 = 0) {
        self.maxPayloadSize = max(maxPayloadSize, 5)
        pictureID = initialPictureID & 0x7FFF
    }

    public mutating func payloads(for frame: [UInt8], isKeyframe: Bool) -> [[UInt8]] {
        let headerSize = 4
        let pid = pictureID
        pictureID = (pictureID &+ 1) & 0x7FFF
        return balancedChunks(frame.count, maxChunk: maxPayloadSize - headerSize).enumerated().map { k, range in
            var p: [UInt8] = []
            p.reserveCapacity(headerSize + range.count)
            p.append(0x80 | (k == 0 ? 0x10 : 0)) // X, S, PID 0
            p.append(0x80)                       // I
            p.append(0x80 | UInt8(pid >> 8))     // M: 15-bit PictureID
            p.append(UInt8(truncatingIfNeeded: pid))
            p.append(contentsOf: frame[range])
            return p
        }
    }
}

/// RFC 9628 VP9 packetizer for one spatial layer: 15-bit PictureID, B/E bits, P on interframes, scalability
/// structure with the resolution on keyframes (V). Non-flexible mode sends layer indices with TL0PICIDX;
/// flexible mode sends one reference diff (previous picture) on interframes. Put the RTP marker on the last payload.
public struct VP9Packetizer: Sendable {
    public let maxPayloadSize: Int
    public let flexibleMode: Bool
    public private(set) var pictureID: UInt16
    private var tl0PicIdx: UInt8 = 0

    public init(maxPayloadSize: Int = 1200, initialPictureID: UInt16 = 0, flexibleMode: Bool = false) {
        self.maxPayloadSize = max(maxPayloadSize, 16)
        pictureID = initialPictureID & 0x7FFF
        self.flexibleMode = flexibleMode
    }

    public mutating func payloads(for frame: [UInt8], isKeyframe: Bool, width: Int, height: Int) -> [[UInt8]] {
        let pid = pictureID
        pictureID = (pictureID &+ 1) & 0x7FFF
        let tl0 = tl0PicIdx
        tl0PicIdx &+= 1

        func descriptor(first: Bool, last: Bool) -> [UInt8] {
            var d: [UInt8] = []
            var b0: UInt8 = 0x80                              // I
            if !isKeyframe { b0 |= 0x40 }                     // P
            if !flexibleMode { b0 |= 0x20 }                   // L (with TL0PICIDX)
            if flexibleMode { b0 |= 0x10 }                    // F
            if first { b0 |= 0x08 }                           // B
            if last { b0 |= 0x04 }                            // E
            let ss = first && isKeyframe
            if ss { b0 |= 0x02 }                              // V
            d.append(b0)
            d.append(0x80 | UInt8(pid >> 8))
            d.append(UInt8(truncatingIfNeeded: pid))
            if !flexibleMode {
                d.append(0)                                   // TID 0, U 0, SID 0, D 0
                d.append(tl0)
            } else if !isKeyframe {
                d.append(1 << 1)                              // P_DIFF 1, N 0
            }
            if ss {
                d.append(0x18)                                // N_S 0, Y, G
                d.append(UInt8(truncatingIfNeeded: width >> 8)); d.append(UInt8(truncatingIfNeeded: width))
                d.append(UInt8(truncatingIfNeeded: height >> 8)); d.append(UInt8(truncatingIfNeeded: height))
                d.append(1)                                   // N_G 1
                d.append(0x04)                                // TID 0, U 0, R 1
                d.append(1)                                   // P_DIFF 1
            }
            return d
        }

        // The first packet carries the longest descriptor; size every chunk for it.
        let maxHeader = descriptor(first: true, last: true).count
        let chunks = balancedChunks(frame.count, maxChunk: maxPayloadSize - maxHeader)
        return chunks.enumerated().map { k, range in
            var p = descriptor(first: k == 0, last: k == chunks.count - 1)
            p.append(contentsOf: frame[range])
            return p
        }
    }
}
