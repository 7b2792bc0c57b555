import SeededRandom
import Testing
@testable import Media

/// The picture bound's parts: `WxH`, the either-way-up comparison, and the sizes each codec's
/// headers declare (VP9 beyond keyframes, H.264 beyond 16384 wide).
@Suite struct PictureSizeTests {
    @Test func parsesWxH() {
        #expect(PictureSize(parsing: "4096x2304") == PictureSize(width: 4096, height: 2304))
        #expect(PictureSize(parsing: "640X360") == PictureSize(width: 640, height: 360))
        for bad in ["", "x", "640", "640x", "x360", "0x360", "640x-1", "axb", "1x2x3", " 640x360"] {
            #expect(PictureSize(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test func theLimitHoldsEitherWayUp() {
        let limit = PictureSizeLimit.standard
        #expect(limit.admits(PictureSize(width: 4096, height: 2304)))
        #expect(limit.admits(PictureSize(width: 1080, height: 1920)))   // a portrait phone camera
        #expect(limit.admits(PictureSize(width: 2304, height: 4096)))
        #expect(!limit.admits(PictureSize(width: 4097, height: 2304)))
        #expect(!limit.admits(PictureSize(width: 2305, height: 2305)))
        #expect(!limit.admits(PictureSize(width: 16383, height: 16383)))
    }

    @Test func vp8KeyframeHeaderSize() throws {
        var rng = SplitMix64(seed: 3)
        let huge = EncodedFrame(codec: .vp8, data: vp8Keyframe(width: 16383, height: 16383, size: 40, &rng), rtpTimestamp: 0,
                                arrivalMicros: 0, isKeyframe: true)
        #expect(declaredPictureSizes(huge) == [PictureSize(width: 16383, height: 16383)])
        #expect(PictureSizeLimit.standard.excess(in: huge) == PictureSize(width: 16383, height: 16383))
        let inter = EncodedFrame(codec: .vp8, data: vp8Interframe(size: 40, &rng), rtpTimestamp: 0, arrivalMicros: 0, isKeyframe: false)
        #expect(declaredPictureSizes(inter).isEmpty && PictureSizeLimit.standard.excess(in: inter) == nil)
    }

    /// VP9 states a size on keyframes, on intra-only frames, and on inter frames that do not take a
    /// reference's; each frame of a superframe counts. The depacketizer's size (a scalability structure) counts too.
    @Test func vp9FrameSizes() throws {
        var rng = SplitMix64(seed: 4)
        let key = vp9Keyframe(width: 65536, height: 65536, size: 20, &rng)
        #expect(VP9FrameHeader(parsing: key[...])?.sizeBitOffset == 36)

        var intra = BitWriter()  // profile 0, not shown, intra-only: no colour config
        intra.write(2, 2); intra.write(0, 2); intra.write(0, 1); intra.write(1, 1); intra.write(0, 1); intra.write(0, 1)
        intra.write(1, 1); intra.write(0, 2)                    // intra_only, reset_frame_context
        intra.write(0x49, 8); intra.write(0x83, 8); intra.write(0x42, 8)
        intra.write(0xFF, 8)                                    // refresh_frame_flags
        intra.write(9999, 16); intra.write(4999, 16)
        let intraHeader = try #require(VP9FrameHeader(parsing: intra.bytes[...]))
        #expect(intraHeader.intraOnly && !intraHeader.isKeyframe && intraHeader.width == 10000 && intraHeader.height == 5000)

        func inter(foundRef: Int?) -> [UInt8] {
            var w = BitWriter()
            w.write(2, 2); w.write(0, 2); w.write(0, 1); w.write(1, 1); w.write(1, 1); w.write(0, 1)
            w.write(0, 2); w.write(1, 8); w.write(0, 12)        // reset_frame_context, refresh flags, refs
            for i in 0..<3 { w.write(i == foundRef ? 1 : 0, 1); if i == foundRef { break } }
            if foundRef == nil { w.write(8191, 16); w.write(8191, 16) }
            w.write(0, 8)
            return w.bytes
        }
        #expect(VP9FrameHeader(parsing: inter(foundRef: 1)[...])?.width == nil)
        #expect(VP9FrameHeader(parsing: inter(foundRef: nil)[...])?.width == 8192)

        let small = vp9Keyframe(width: 320, height: 180, size: 20, &rng)
        let superframe = try #require(VP9Superframe.make([small[...], inter(foundRef: nil)[...]]))
        let frame = EncodedFrame(codec: .vp9, data: superframe, rtpTimestamp: 0, arrivalMicros: 0, isKeyframe: true)
        #expect(declaredPictureSizes(frame) == [PictureSize(width: 320, height: 180), PictureSize(width: 8192, height: 8192)])
        #expect(PictureSizeLimit.standard.excess(in: frame) == PictureSize(width: 8192, height: 8192))

        var stated = EncodedFrame(codec: .vp9, data: small, rtpTimestamp: 0, arrivalMicros: 0, isKeyframe: true)
        #expect(PictureSizeLimit.standard.excess(in: stated) == nil)
        (stated.width, stated.height) = (65535, 65535)
        #expect(PictureSizeLimit.standard.excess(in: stated) == PictureSize(width: 65535, height: 65535))
    }

    /// An SPS beyond any level (1000×2000 macroblocks) still parses, in any access unit, so the bound sees it.
    @Test func h264SPSSizes() throws {
        var w = BitWriter()
        w.write(0x67, 8); w.write(66, 8); w.write(0xC0, 8); w.write(30, 8)
        w.ue(0); w.ue(0); w.ue(2); w.ue(1); w.write(0, 1); w.ue(1999); w.ue(999); w.write(1, 1); w.write(1, 1); w.write(0, 1)
        w.write(1, 1)
        let sps = try #require(H264SPS(nal: w.bytes[...]))
        #expect(sps.width == 32000 && sps.height == 16000)
        let unit = EncodedFrame(codec: .h264, data: AnnexB.join([w.bytes, [0x68, 0xCE, 0x38, 0x80], [0x41, 0x9A]]), rtpTimestamp: 0,
                                arrivalMicros: 0, isKeyframe: false)
        #expect(declaredPictureSizes(unit) == [PictureSize(width: 32000, height: 16000)])
        #expect(PictureSizeLimit.standard.excess(in: unit) != nil)
    }

    /// Escaping is the inverse of `rbsp`.
    @Test func emulationPreventionRoundTrips() {
        var rng = SplitMix64(seed: 5)
        for _ in 0..<200 {
            let rbsp = (0..<Int.random(in: 1...40, using: &rng)).map { _ in UInt8.random(in: 0...4, using: &rng) }
            let escaped = H264BitReader.escaped(rbsp)
            #expect(H264BitReader.rbsp(escaped[...]) == rbsp)
        }
    }
}
