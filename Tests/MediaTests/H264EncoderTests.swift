import SeededRandom
import Testing
import RTP
@testable import Media

/// The product's libx264 encoder: what a WebRTC receiver (and `H264Decoder`) needs of a Safari-like sender.
@Suite(.enabled(if: x264Available, "needs libavcodec's libx264 encoder"))
struct H264EncoderTests {
    static let background = (y: UInt8(81), u: UInt8(90), v: UInt8(240))

    static func picture(_ i: Int, width: Int = 320, height: Int = 240) -> I420Frame {
        var f = I420Frame(width: width, height: height, y: background.y, u: background.u, v: background.v)
        f.fill(rect: PixelRect(x: 16 + 4 * (i % 40), y: 80, width: 64, height: 64), y: 145, u: 54, v: 34)
        return f
    }

    static func sps(_ au: [UInt8]) -> ArraySlice<UInt8>? { AnnexB.nalUnits(in: au).first { $0.first! & 0x1F == H264NALType.sps } }

    @Test func constrainedBaselineOneAccessUnitPerPictureIDRsAtTheInterval() throws {
        let enc = try H264Encoder(H264Encoder.Settings(width: 320, height: 240, bitrateKbps: 300, keyframeInterval: 10))
        var aus: [EncodedPacket] = []
        for i in 0..<25 {
            let out = try enc.encode(Self.picture(i), pts: Int64(i))
            // zerolatency, no B-frames: every picture comes straight back, in order.
            #expect(out.count == 1 && out.first?.pts == Int64(i), "picture \(i): \(out.map(\.pts))")
            aus += out
        }
        #expect(try enc.flush().isEmpty)
        #expect(aus.filter(\.isKeyframe).map(\.pts) == [0, 10, 20])
        for au in aus {
            let types = AnnexB.nalUnits(in: au.data).map { $0.first! & 0x1F }
            // SPS and PPS in front of every IDR; IDR slices only in keyframes.
            #expect(types.contains(H264NALType.idrSlice) == au.isKeyframe, "pts \(au.pts): \(types)")
            if au.isKeyframe { #expect(types.contains(H264NALType.sps) && types.contains(H264NALType.pps), "pts \(au.pts): \(types)") }
        }
        let sps = try #require(Self.sps(aus[0].data))
        let parsed = try #require(H264SPS(nal: sps))
        #expect(parsed.profileIdc == 66 && parsed.width == 320 && parsed.height == 240)
        // constraint_set1_flag: constrained baseline (profile-level-id 42e0xx / 42c0xx).
        #expect(sps[sps.startIndex + 2] & 0x40 != 0, "constraint flags \(sps[sps.startIndex + 2])")
    }

    @Test func forcedKeyframeIsAnIDRAndTheStreamDecodesToThePicture() throws {
        let enc = try H264Encoder(H264Encoder.Settings(width: 320, height: 240, keyframeInterval: 300))
        let decoder = try H264Decoder(threads: 1)
        var keyframes: [Int64] = []
        var last: I420Frame?
        for i in 0..<12 {
            for au in try enc.encode(Self.picture(i), pts: Int64(i), forceKeyframe: i == 7) {
                if au.isKeyframe { keyframes.append(au.pts) }
                last = try decoder.decode(au.data).last ?? last
            }
        }
        #expect(keyframes == [0, 7])
        let picture = try #require(last)
        #expect(picture.width == 320 && picture.height == 240)
        let colour = picture.averageColor(in: PixelRect(x: 0, y: 0, width: 320, height: 64))
        #expect(abs(colour.y - 81) < 6 && abs(colour.u - 90) < 6 && abs(colour.v - 240) < 6, "\(colour)")
    }

    @Test func bitrateIsRoughlyKept() throws {
        var rng = SplitMix64(seed: 4)
        let enc = try H264Encoder(H264Encoder.Settings(width: 320, height: 240, bitrateKbps: 200, keyframeInterval: 30))
        var bytes = 0
        for i in 0..<60 {
            // Noise everywhere: far more than 200 kbit/s unless rate control holds it back.
            var f = I420Frame(width: 320, height: 240)
            for k in f.y.indices { f.y[k] = UInt8.random(in: 16...235, using: &rng) }
            bytes += try enc.encode(f, pts: Int64(i)).reduce(0) { $0 + $1.data.count }
        }
        let kbps = Double(bytes * 8) / 2 / 1000
        #expect(kbps < 400, "\(kbps) kbit/s for a 200 kbit/s target")
    }

    @Test func aNewEncoderForANewSizeStartsWithAnIDRCarryingTheNewSPS() throws {
        let decoder = try H264Decoder(threads: 1)
        var sizes: [String] = []
        for (w, h) in [(320, 240), (160, 120)] {
            let enc = try H264Encoder(H264Encoder.Settings(width: w, height: h))
            let first = try #require(try enc.encode(Self.picture(0, width: w, height: h), pts: 0).first)
            #expect(first.isKeyframe)
            let sps = try #require(Self.sps(first.data))
            #expect(H264SPS(nal: sps)?.width == w)
            sizes += try decoder.decode(first.data).map { "\($0.width)x\($0.height)" }
        }
        #expect(sizes == ["320x240", "160x120"])
    }

    @Test func badSettingsAndMismatchedFramesThrowCodecError() throws {
        #expect(throws: CodecError.self) { try H264Encoder(H264Encoder.Settings(width: 0, height: 240)) }
        #expect(throws: CodecError.self) { try H264Encoder(H264Encoder.Settings(width: 321, height: 240)) }
        #expect(throws: CodecError.self) { try H264Encoder(H264Encoder.Settings(width: 320, height: 240, keyframeInterval: 0)) }
        #expect(throws: CodecError.self) { try H264Encoder(H264Encoder.Settings(width: 320, height: 240, qp: 60)) }
        #expect(throws: CodecError.self) { try H264Encoder(H264Encoder.Settings(width: 320, height: 240, preset: "no-such-preset")) }
        let enc = try H264Encoder(H264Encoder.Settings(width: 320, height: 240))
        #expect(throws: CodecError.self) { try enc.encode(I420Frame(width: 160, height: 120), pts: 0) }
        // Still usable after a rejected frame.
        #expect(try enc.encode(Self.picture(0), pts: 0).count == 1)
    }

    @Test func manyEncodersComeAndGo() throws {
        // deinit frees the context, frame and packet (run under a leak checker to see it); here: no crash, no growth in behaviour.
        for i in 0..<20 {
            let enc = try H264Encoder(H264Encoder.Settings(width: 64, height: 48))
            #expect(try enc.encode(Self.picture(i, width: 64, height: 48), pts: 0).first?.isKeyframe == true)
        }
    }
}
