import SeededRandom
import Testing
import RTP
@testable import Media

@Suite struct DepacketizerDescriptorTests {
    @Test func vp8FullDescriptor() throws {
        // X N S PID0 | I L T K | M + 15-bit PictureID 0x0123 | TL0PICIDX 0x42 | TID 2, Y, KEYIDX 5 | payload
        let d = try #require(VP8Descriptor(parsing: [0xB0, 0xF0, 0x81, 0x23, 0x42, 0xA5, 0xAA][...]))
        #expect(d.size == 6)
        #expect(d.nonReference && d.isFrameStart && d.partitionIndex == 0)
        #expect(d.pictureID == 0x0123 && d.longPictureID)
        #expect(d.tl0PicIdx == 0x42)
        #expect(d.temporalLayer == 2 && d.layerSync && d.keyIndex == 5)
    }

    @Test func vp8ShortForms() throws {
        let seven = try #require(VP8Descriptor(parsing: [0x90, 0x80, 0x7F, 0xAA][...]))
        #expect(seven.size == 3 && seven.pictureID == 127 && !seven.longPictureID)
        let bare = try #require(VP8Descriptor(parsing: [0x13, 0xAA][...]))
        #expect(bare.size == 1 && bare.pictureID == nil && bare.partitionIndex == 3 && !bare.isFrameStart)
        let kOnly = try #require(VP8Descriptor(parsing: [0x80, 0x10, 0x1F, 0xAA][...]))
        #expect(kOnly.keyIndex == 31 && kOnly.temporalLayer == nil && kOnly.size == 3)
        // A descriptor inside a non-zero-based slice
        let big: [UInt8] = [9, 9, 0x90, 0x80, 0x05, 0xAA]
        #expect(VP8Descriptor(parsing: big[2...])?.pictureID == 5)
    }

    @Test func vp8TruncatedDescriptors() {
        for bad: [UInt8] in [[], [0x80], [0x90, 0x80], [0x90, 0x80, 0x81], [0x90, 0x80, 0x81, 0x00], [0x90, 0xC0, 0x01],
                             [0x90, 0x20], [0x10]] {
            #expect(VP8Descriptor(parsing: bad[...]) == nil, "\(bad)")
        }
    }

    @Test func vp8KeyframeSizeFromHandBuiltHeader() {
        var rng = SplitMix64(seed: 5)
        // width 640 with horizontal scale 1 in the top two bits: 0x4280
        let key = vp8Keyframe(width: 640, height: 480, size: 50, &rng, hscale: 1)
        #expect(key[6] == 0x80 && key[7] == 0x42 && key[8] == 0xE0 && key[9] == 0x01)
        let size = VP8Depacketizer.keyframeSize(key[...])
        #expect(size?.width == 640 && size?.height == 480)
        #expect(VP8Depacketizer.keyframeSize(vp8Interframe(size: 50, &rng)[...]) == nil)
        var badStart = key
        badStart[4] = 0x02
        #expect(VP8Depacketizer.keyframeSize(badStart[...]) == nil)
        #expect(VP8Depacketizer.keyframeSize(key[0..<9]) == nil)

        var dep = VP8Depacketizer()
        var pk = VP8Packetizer(maxPayloadSize: 20)
        let payloads = pk.payloads(for: key, isKeyframe: true)
        var frames: [EncodedFrame] = []
        for (k, p) in payloads.enumerated() {
            let rtp = RTPPacket(payloadType: 96, sequenceNumber: UInt16(k), timestamp: 90, ssrc: 1, marker: k == payloads.count - 1, payload: p)
            frames += dep.push(ordered(rtp, seq: Int64(k), ts: 90, arrival: Int64(k)))
        }
        #expect(frames.count == 1)
        #expect(frames.first?.width == 640 && frames.first?.height == 480 && frames.first?.isKeyframe == true)
        #expect(frames.first?.arrivalMicros == 0)
    }

    @Test func vp9FlexibleDescriptor() throws {
        // I P F B E | PictureID 7-bit 5 | P_DIFF 3 (N=1), P_DIFF 10 (N=0) | payload
        let d = try #require(VP9Descriptor(parsing: [0xDC, 0x05, 0x07, 0x14, 0xAA][...]))
        #expect(d.flexibleMode && d.interPicturePredicted && d.beginsFrame && d.endsFrame)
        #expect(d.pictureID == 5 && !d.longPictureID)
        #expect(d.referenceDiffs == [3, 10])
        #expect(d.size == 4 && d.scalability == nil && !d.hasLayerIndices)

        // I P L F B | 15-bit PictureID 0x0500 | TID 2 U SID 1 D | P_DIFF 1 | payload (no TL0PICIDX in flexible mode)
        let l = try #require(VP9Descriptor(parsing: [0xF8, 0x85, 0x00, 0x53, 0x02, 0xAA][...]))
        #expect(l.pictureID == 0x0500 && l.longPictureID)
        #expect(l.temporalID == 2 && l.switchingUp && l.spatialID == 1 && l.interLayerDependency)
        #expect(l.tl0PicIdx == nil && l.referenceDiffs == [1] && l.size == 5)
        #expect(!l.endsFrame)
    }

    @Test func vp9NonFlexibleDescriptorWithScalabilityStructure() throws {
        let bytes: [UInt8] = [
            0xAE, 0x7F,             // I L B E V, PictureID 127
            0x00, 0x09,             // TID 0 SID 0, TL0PICIDX 9
            0x58,                   // N_S = 2 (3 layers), Y, G
            0x00, 0xA0, 0x00, 0x5A, // 160x90
            0x01, 0x40, 0x00, 0xB4, // 320x180
            0x02, 0x80, 0x01, 0x68, // 640x360
            0x02,                   // N_G = 2
            0x04, 0x04,             // TID 0, U 0, R 1: P_DIFF 4
            0x38, 0x01, 0x02,       // TID 1, U 1, R 2: P_DIFF 1, 2
            0xAA,
        ]
        let d = try #require(VP9Descriptor(parsing: bytes[...]))
        #expect(!d.flexibleMode && d.hasLayerIndices && d.tl0PicIdx == 9)
        #expect(d.size == bytes.count - 1)
        let ss = try #require(d.scalability)
        #expect(ss.spatialLayers == 3)
        #expect(ss.resolutions == [VP9Resolution(width: 160, height: 90), VP9Resolution(width: 320, height: 180),
                                   VP9Resolution(width: 640, height: 360)])
        #expect(ss.pictureGroup == [VP9PictureGroupEntry(temporalID: 0, switchingUp: false, referenceDiffs: [4]),
                                    VP9PictureGroupEntry(temporalID: 1, switchingUp: true, referenceDiffs: [1, 2])])
        // Every truncation of it fails cleanly.
        for n in 0..<(bytes.count - 1) { #expect(VP9Descriptor(parsing: bytes[0..<n]) == nil) }
    }

    @Test func vp9MalformedDescriptors() {
        #expect(VP9Descriptor(parsing: [0xDC, 0x05, 0x03, 0x03, 0x03, 0x02, 0xAA][...]) == nil) // 4 P_DIFFs
        #expect(VP9Descriptor(parsing: [0x08][...]) == nil)                                       // no payload
        #expect(VP9Descriptor(parsing: [0x08, 0xAA][...])?.size == 1)
    }

    @Test func vp9FrameHeader() throws {
        var rng = SplitMix64(seed: 2)
        let key = try #require(VP9FrameHeader(parsing: vp9Keyframe(width: 1280, height: 720, size: 20, &rng)[...]))
        #expect(key.isKeyframe && key.showFrame && key.profile == 0)
        #expect(key.width == 1280 && key.height == 720)
        let inter = try #require(VP9FrameHeader(parsing: vp9Interframe(size: 5, &rng)[...]))
        #expect(!inter.isKeyframe && inter.width == nil)
        #expect(VP9FrameHeader(parsing: [0x00, 0x00][...]) == nil)                       // bad frame marker
        #expect(VP9FrameHeader(parsing: [0x82, 0x49, 0x83, 0x43, 0, 0, 0, 0, 0][...]) == nil) // bad sync code
        #expect(VP9FrameHeader(parsing: [0x88][...])?.showExistingFrame == true)
        #expect(VP9FrameHeader(parsing: vp9Keyframe(width: 64, height: 64, size: 8, &rng)[0..<7]) == nil) // truncated size
    }
}
