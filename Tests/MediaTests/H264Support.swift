import SeededRandom
import CFFmpeg
import RTP
@testable import Media

/// True when libavcodec has the libx264 encoder the H.264 tests make their streams with.
/// (The `ffmpeg` CLI uses the same libavcodec, so it would not have it either.)
/// Also quiets libav's log (process-wide): the mutation tests make the h264 decoder complain on every call.
let x264Available: Bool = {
    av_log_set_level(AV_LOG_FATAL)
    return H264Encoder.isAvailable
}()

/// One encoded access unit (Annex B as libx264 writes it: 3- or 4-byte start codes).
struct TestAU {
    var data: [UInt8]
    var isIDR: Bool
    /// The same NAL units with a 4-byte start code each: what `H264Depacketizer` returns.
    var normalized: [UInt8] { AnnexB.join(AnnexB.nalUnits(in: data)) }
    var nalTypes: [UInt8] { AnnexB.nalUnits(in: data).map { $0.first! & 0x1F } }
}

/// Encodes `count` test pictures (new noise every other frame) with an IDR at every index in `idrAt`, through
/// the product's `H264Encoder` at a constant QP (no bitrate surprises), IDRs only where asked.
func makeH264Stream(width: Int = 320, height: Int = 240, count: Int = 60, idrAt: Set<Int> = [0, 30], profile: String = "baseline",
                    slices: Int = 1, extraParams: String = "", seed: UInt64 = 1) -> [TestAU] {
    var rng = SplitMix64(seed: seed)
    let settings = H264Encoder.Settings(width: width, height: height, keyframeInterval: 1000,
                                        profile: H264Encoder.Profile(rawValue: profile)!, qp: 18, slices: slices,
                                        x264Params: extraParams)
    let enc = try! H264Encoder(settings)
    var aus: [TestAU] = []
    var picture = testPicture(width: width, height: height, &rng)
    for i in 0..<count {
        // New noise on even frames only: odd frames repeat the picture and code to tiny slices (single NAL packets).
        if i > 0 && i % 2 == 0 { picture = testPicture(width: width, height: height, &rng) }
        aus += try! enc.encode(picture, pts: Int64(i), forceKeyframe: idrAt.contains(i)).map { TestAU(data: $0.data, isIDR: $0.isKeyframe) }
    }
    aus += try! enc.flush().map { TestAU(data: $0.data, isIDR: $0.isKeyframe) }
    return aus
}

/// The test picture: a band of noise on top (so every frame codes to several KB and needs FU-A), four solid
/// quadrants of `quadrantColors` below it.
let quadrantColors: [(y: UInt8, u: UInt8, v: UInt8)] = [(200, 60, 180), (80, 200, 90), (150, 128, 128), (40, 100, 220)]
let noiseBand = 32

func testPicture(width: Int, height: Int, _ rng: inout SplitMix64) -> I420Frame {
    var f = I420Frame(width: width, height: height)
    for i in 0..<(width * noiseBand) { f.y[i] = UInt8.random(in: 16...235, using: &rng) }
    for (k, rect) in quadrantRects(width: width, height: height, margin: 0).enumerated() {
        let c = quadrantColors[k]
        f.fill(rect: rect, y: c.y, u: c.u, v: c.v)
    }
    return f
}

/// The four quadrants below the noise band, shrunk by `margin` on every side.
func quadrantRects(width: Int, height: Int, margin: Int) -> [PixelRect] {
    let top = noiseBand, hw = width / 2, hh = (height - noiseBand) / 2
    return [PixelRect(x: 0, y: top, width: hw, height: hh), PixelRect(x: hw, y: top, width: width - hw, height: hh),
            PixelRect(x: 0, y: top + hh, width: hw, height: height - top - hh),
            PixelRect(x: hw, y: top + hh, width: width - hw, height: height - top - hh)]
        .map { PixelRect(x: $0.x + margin, y: $0.y + margin, width: $0.width - 2 * margin, height: $0.height - 2 * margin) }
}

/// Payload kind of an H.264 RTP payload: the NAL unit type in its first byte.
func payloadType<C: Collection>(_ p: C) -> UInt8 where C.Element == UInt8 { p.first! & 0x1F }
/// The FU header (second byte) of an FU-A payload.
func fuHeader<C: Collection>(_ p: C) -> UInt8 where C.Element == UInt8 { p.dropFirst().first! }
