import SeededRandom
import Testing
import RTP
@testable import Media

@Suite struct DepacketizerVP9SVCTests {
    /// Descriptor for one packet of a spatial layer frame in non-flexible mode.
    func descriptor(sid: UInt8, p: Bool, begin: Bool, end: Bool, ss: [VP9Resolution]?, pid: UInt16 = 0x1234) -> [UInt8] {
        var b0: UInt8 = 0x80 | 0x20                 // I L
        if p { b0 |= 0x40 }
        if begin { b0 |= 0x08 }
        if end { b0 |= 0x04 }
        if ss != nil { b0 |= 0x02 }
        var d: [UInt8] = [b0, 0x80 | UInt8(pid >> 8), UInt8(pid & 0xFF), sid << 1 | (sid > 0 ? 1 : 0), 0x00]
        if let ss {
            d.append(UInt8(ss.count - 1) << 5 | 0x10)
            for r in ss { d += [UInt8(r.width >> 8), UInt8(r.width & 0xFF), UInt8(r.height >> 8), UInt8(r.height & 0xFF)] }
        }
        return d
    }

    /// Packets of one picture: each layer frame split in `chunk`-byte pieces.
    func picture(_ layers: [[UInt8]], key: Bool, ts: UInt32, seq: inout UInt16, chunk: Int = 400,
                 ss: [VP9Resolution]? = nil) -> [RTPPacket] {
        var out: [RTPPacket] = []
        for (sid, layer) in layers.enumerated() {
            let pieces = stride(from: 0, to: layer.count, by: chunk).map { Array(layer[$0..<min($0 + chunk, layer.count)]) }
            for (k, piece) in pieces.enumerated() {
                let d = descriptor(sid: UInt8(sid), p: !key || sid > 0 ? (sid == 0 ? !key : false) : false,
                                   begin: k == 0, end: k == pieces.count - 1,
                                   ss: sid == 0 && k == 0 ? ss : nil)
                out.append(RTPPacket(payloadType: 98, sequenceNumber: seq, timestamp: ts, ssrc: 3,
                                     marker: sid == layers.count - 1 && k == pieces.count - 1, payload: d + piece))
                seq &+= 1
            }
        }
        return out
    }

    func feed(_ dep: inout VP9Depacketizer, _ packets: [RTPPacket], skip: Set<Int> = []) -> [EncodedFrame] {
        var rb = ReorderBuffer()
        var frames: [EncodedFrame] = []
        for (i, p) in packets.enumerated() where !skip.contains(i) {
            for o in rb.insert(p, arrivalMicros: Int64(i)) { frames += dep.consume(o) }
        }
        for o in rb.flush() { frames += dep.consume(o) }
        return frames + dep.flush()
    }

    @Test func twoSpatialLayersBecomeASuperframe() throws {
        var rng = SplitMix64(seed: 21)
        let l0 = vp9Keyframe(width: 320, height: 180, size: 700, &rng)
        let l1 = vp9Interframe(size: 900, &rng)
        var seq: UInt16 = 65534
        let res = [VP9Resolution(width: 320, height: 180), VP9Resolution(width: 640, height: 360)]
        let packets = picture([l0, l1], key: true, ts: 1000, seq: &seq, ss: res)
        #expect(packets.count == 5)
        var dep = VP9Depacketizer()
        let frames = feed(&dep, packets)
        #expect(frames.count == 1)
        let f = try #require(frames.first)
        #expect(f.isKeyframe && f.width == 640 && f.height == 360)
        // 900 > 255: two-byte sizes; marker 0b110_01_001
        let index: [UInt8] = [0xC9, 0xBC, 0x02, 0x84, 0x03, 0xC9]
        #expect(f.data == l0 + l1 + index)
        let parts = try #require(VP9Superframe.split(f.data[...]))
        #expect(parts.map { Array($0) } == [l0, l1])
        #expect(dep.scalability?.spatialLayers == 2)
    }

    @Test func smallLayersUseOneByteSizes() throws {
        let frames: [ArraySlice<UInt8>] = [[0x82, 1, 2][...], [0x86, 3][...], [0x86, 4, 5, 6][...]]
        let sf = try #require(VP9Superframe.make(frames))
        #expect(Array(sf.suffix(5)) == [0xC2, 3, 2, 4, 0xC2])
        #expect(VP9Superframe.split(sf[...])?.map { Array($0) } == frames.map { Array($0) })
        #expect(VP9Superframe.make([]) == nil)
        #expect(VP9Superframe.make(Array(repeating: [1][...], count: 9)) == nil)
        #expect(VP9Superframe.split([0x82, 0x01, 0x02][...]) == nil)
        #expect(VP9Superframe.split([0xC0][...]) == nil)
        #expect(VP9Superframe.split([0x05, 0xC0, 0x09, 0xC0][...]) == nil) // size past the data
    }

    @Test func layerFrameThatIsASuperframeIsFlattened() throws {
        var rng = SplitMix64(seed: 4)
        let hidden = vp9Keyframe(width: 320, height: 180, size: 100, &rng)
        let shown = vp9Interframe(size: 50, &rng)
        let l0 = try #require(VP9Superframe.make([hidden[...], shown[...]]))
        let l1 = vp9Interframe(size: 300, &rng)
        var seq: UInt16 = 0
        var dep = VP9Depacketizer()
        let frames = feed(&dep, picture([l0, l1], key: true, ts: 0, seq: &seq))
        let f = try #require(frames.first)
        #expect(VP9Superframe.split(f.data[...])?.map { Array($0) } == [hidden, shown, l1])
        #expect(f.isKeyframe && f.width == 320 && f.height == 180) // no SS: size from the keyframe header
    }

    @Test func lostUpperLayerPacketDropsThePictureUntilKeyframe() {
        var rng = SplitMix64(seed: 8)
        var seq: UInt16 = 100
        let res = [VP9Resolution(width: 320, height: 180), VP9Resolution(width: 640, height: 360)]
        let p0 = picture([vp9Keyframe(width: 320, height: 180, size: 500, &rng), vp9Interframe(size: 500, &rng)],
                         key: true, ts: 0, seq: &seq, ss: res)
        let p1 = picture([vp9Interframe(size: 500, &rng), vp9Interframe(size: 900, &rng)], key: false, ts: 3000, seq: &seq)
        let p2 = picture([vp9Interframe(size: 300, &rng), vp9Interframe(size: 300, &rng)], key: false, ts: 6000, seq: &seq)
        let p3 = picture([vp9Keyframe(width: 320, height: 180, size: 500, &rng), vp9Interframe(size: 500, &rng)],
                         key: true, ts: 9000, seq: &seq, ss: res)
        let all = p0 + p1 + p2 + p3
        var dep = VP9Depacketizer()
        // lose the middle packet of p1's upper layer (900 bytes -> 3 pieces)
        let victim = p0.count + 2 + 1
        let frames = feed(&dep, all, skip: [victim])
        #expect(frames.map(\.rtpTimestamp) == [0, 9000])
        #expect(frames.allSatisfy { $0.isKeyframe })
        #expect(dep.stats.framesDroppedIncomplete == 1)
        #expect(dep.stats.framesDroppedWaitingForKeyframe == 1)
    }

    @Test func missingEndBitBreaksPicture() {
        var rng = SplitMix64(seed: 9)
        var dep = VP9Depacketizer()
        let data = vp9Keyframe(width: 64, height: 64, size: 50, &rng)
        // B without E, then another B in the same picture: the first layer frame never ended.
        let a = RTPPacket(payloadType: 98, sequenceNumber: 1, timestamp: 5, ssrc: 1,
                          payload: descriptor(sid: 0, p: false, begin: true, end: false, ss: nil) + data)
        let b = RTPPacket(payloadType: 98, sequenceNumber: 2, timestamp: 5, ssrc: 1, marker: true,
                          payload: descriptor(sid: 1, p: false, begin: true, end: true, ss: nil) + data)
        let frames = feed(&dep, [a, b])
        #expect(frames.isEmpty)
        #expect(dep.stats.framesDroppedIncomplete == 1)
    }
}
