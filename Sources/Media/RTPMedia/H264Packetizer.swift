/// RFC 6184 H.264 packetizer, packetization mode 1 (non-interleaved): a NAL unit that fits goes alone
/// (single NAL unit packet), consecutive small ones (SPS + PPS, say) are aggregated into a STAP-A, and a
/// NAL unit larger than `maxPayloadSize` is fragmented into FU-A packets of balanced sizes.
/// Put the RTP marker bit on the last payload of the access unit.
public struct H264Packetizer: Sendable {
    public let maxPayloadSize: Int

    public init(maxPayloadSize: Int = 1200) {
        self.maxPayloadSize = max(maxPayloadSize, 3) // FU indicator + FU header + one byte
    }

    /// The RTP payloads of one access unit given as an Annex B byte stream (3- or 4-byte start codes).
    public func payloads(forAnnexB accessUnit: [UInt8]) -> [[UInt8]] {
        payloads(forNALUnits: AnnexB.nalUnits(in: accessUnit[...]))
    }

    /// The RTP payloads of one access unit given as NAL units (header byte included, no start codes).
    public func payloads(forNALUnits nals: [ArraySlice<UInt8>]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var k = 0
        while k < nals.count {
            let nal = nals[k]
            guard nal.count <= maxPayloadSize else {
                out += fragments(nal)
                k += 1
                continue
            }
            // Aggregate as many following NAL units as fit in one STAP-A (16-bit sizes).
            var size = 1 + 2 + nal.count
            var last = k
            while last + 1 < nals.count, nals[last + 1].count <= 0xFFFF, size + 2 + nals[last + 1].count <= maxPayloadSize {
                size += 2 + nals[last + 1].count
                last += 1
            }
            if last == k || nal.count > 0xFFFF {
                out.append(Array(nal))
                k += 1
                continue
            }
            var p: [UInt8] = [0]
            p.reserveCapacity(size)
            var f: UInt8 = 0, nri: UInt8 = 0
            for n in nals[k...last] {
                let h = n[n.startIndex]
                f |= h & 0x80
                nri = max(nri, h & 0x60)
                p.append(UInt8(n.count >> 8))
                p.append(UInt8(n.count & 0xFF))
                p += n
            }
            p[0] = f | nri | H264NALType.stapA
            out.append(p)
            k = last + 1
        }
        return out
    }

    /// FU-A fragments of one NAL unit: the header byte becomes the FU indicator (F, NRI) and FU header (type).
    private func fragments(_ nal: ArraySlice<UInt8>) -> [[UInt8]] {
        let header = nal[nal.startIndex]
        let body = nal.dropFirst()
        let indicator = (header & 0xE0) | H264NALType.fuA
        let chunks = balancedChunks(body.count, maxChunk: maxPayloadSize - 2)
        return chunks.enumerated().map { i, range in
            var fuHeader = header & 0x1F
            if i == 0 { fuHeader |= 0x80 }
            if i == chunks.count - 1 { fuHeader |= 0x40 }
            var p: [UInt8] = [indicator, fuHeader]
            p.reserveCapacity(2 + range.count)
            p += body[(body.startIndex + range.lowerBound)..<(body.startIndex + range.upperBound)]
            return p
        }
    }
}
