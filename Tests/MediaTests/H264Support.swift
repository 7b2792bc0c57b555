import CFFmpeg
import RTP
@testable import Media

/// True when libavcodec has the libx264 encoder the H.264 tests make their streams with.
/// (The `ffmpeg` CLI uses the same libavcodec, so it would not have it either.)
/// Also quiets libav's log (process-wide): the mutation tests make the h264 decoder complain on every call.
let x264Available: Bool = {
    av_log_set_level(AV_LOG_FATAL)
    return avcodec_find_encoder_by_name("libx264") != nil
}()

/// One encoded access unit (Annex B as libx264 writes it: 3- or 4-byte start codes).
struct TestAU {
    var data: [UInt8]
    var isIDR: Bool
    /// The same NAL units with a 4-byte start code each: what `H264Depacketizer` returns.
    var normalized: [UInt8] { AnnexB.join(AnnexB.nalUnits(in: data)) }
    var nalTypes: [UInt8] { AnnexB.nalUnits(in: data).map { $0.first! & 0x1F } }
}

/// A test-only libx264 encoder (through libavcodec): I420 frames in, Annex B access units out, no B-frames,
/// no lookahead, IDR only where asked, SPS/PPS in front of every IDR.
final class X264TestEncoder {
    let width: Int, height: Int
    let yuv444: Bool
    private var ctx: UnsafeMutablePointer<AVCodecContext>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var pts: Int64 = 0

    /// `profile`: baseline, main, high or high444 (which takes 4:4:4 input, converted from the I420 frames given).
    init(width: Int, height: Int, profile: String = "baseline", slices: Int = 1, qp: Int = 18, extraParams: String = "") {
        self.width = width
        self.height = height
        yuv444 = profile == "high444"
        let codec = avcodec_find_encoder_by_name("libx264")!
        ctx = avcodec_alloc_context3(codec)
        let c = ctx!
        c.pointee.width = Int32(width)
        c.pointee.height = Int32(height)
        c.pointee.time_base = AVRational(num: 1, den: 30)
        c.pointee.framerate = AVRational(num: 30, den: 1)
        c.pointee.pix_fmt = yuv444 ? AV_PIX_FMT_YUV444P : AV_PIX_FMT_YUV420P
        c.pointee.gop_size = 1000
        c.pointee.max_b_frames = 0
        c.pointee.thread_count = 1
        av_opt_set(c.pointee.priv_data, "preset", "ultrafast", 0)
        av_opt_set(c.pointee.priv_data, "tune", "zerolatency", 0)
        av_opt_set(c.pointee.priv_data, "profile", profile, 0)
        av_opt_set(c.pointee.priv_data, "forced-idr", "1", 0)
        av_opt_set(c.pointee.priv_data, "qp", "\(qp)", 0)
        var params = "scenecut=0:slices=\(slices)"
        if !extraParams.isEmpty { params += ":" + extraParams }
        av_opt_set(c.pointee.priv_data, "x264-params", params, 0)
        let err = avcodec_open2(c, codec, nil)
        precondition(err >= 0, "libx264 open failed: \(err)")
        frame = av_frame_alloc()
        frame!.pointee.width = Int32(width)
        frame!.pointee.height = Int32(height)
        frame!.pointee.format = c.pointee.pix_fmt.rawValue
        precondition(av_frame_get_buffer(frame, 0) >= 0)
        packet = av_packet_alloc()
    }

    deinit {
        avcodec_free_context(&ctx)
        av_frame_free(&frame)
        av_packet_free(&packet)
    }

    func encode(_ picture: I420Frame, idr: Bool = false) -> [TestAU] {
        let f = frame!
        precondition(av_frame_make_writable(f) >= 0)
        func put(_ plane: [UInt8], _ pw: Int, _ ph: Int, _ data: UnsafeMutablePointer<UInt8>, _ stride: Int32, upsample: Bool) {
            for row in 0..<(upsample ? ph * 2 : ph) {
                for col in 0..<(upsample ? pw * 2 : pw) {
                    let sr = upsample ? min(row / 2, ph - 1) : row, sc = upsample ? min(col / 2, pw - 1) : col
                    data[row * Int(stride) + col] = plane[sr * pw + sc]
                }
            }
        }
        put(picture.y, width, height, f.pointee.data.0!, f.pointee.linesize.0, upsample: false)
        put(picture.u, picture.chromaWidth, picture.chromaHeight, f.pointee.data.1!, f.pointee.linesize.1, upsample: yuv444)
        put(picture.v, picture.chromaWidth, picture.chromaHeight, f.pointee.data.2!, f.pointee.linesize.2, upsample: yuv444)
        f.pointee.pts = pts
        pts += 1
        f.pointee.pict_type = idr ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE
        precondition(avcodec_send_frame(ctx, f) >= 0)
        return drain()
    }

    func flush() -> [TestAU] {
        _ = avcodec_send_frame(ctx, nil)
        return drain()
    }

    private func drain() -> [TestAU] {
        var out: [TestAU] = []
        while avcodec_receive_packet(ctx, packet) >= 0 {
            let p = packet!.pointee
            out.append(TestAU(data: Array(UnsafeBufferPointer(start: p.data, count: Int(p.size))), isIDR: p.flags & AV_PKT_FLAG_KEY != 0))
            av_packet_unref(packet)
        }
        return out
    }
}

/// The test picture: a band of noise on top (so every frame codes to several KB and needs FU-A), four solid
/// quadrants of `quadrantColors` below it.
let quadrantColors: [(y: UInt8, u: UInt8, v: UInt8)] = [(200, 60, 180), (80, 200, 90), (150, 128, 128), (40, 100, 220)]
let noiseBand = 32

func testPicture(width: Int, height: Int, _ rng: inout DepacketizerRNG) -> I420Frame {
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

/// Encodes `count` test pictures (new noise every other frame) with an IDR at every index in `idrAt`.
func makeH264Stream(width: Int = 320, height: Int = 240, count: Int = 60, idrAt: Set<Int> = [0, 30], profile: String = "baseline",
                    slices: Int = 1, extraParams: String = "", seed: UInt64 = 1) -> [TestAU] {
    var rng = DepacketizerRNG(seed: seed)
    let enc = X264TestEncoder(width: width, height: height, profile: profile, slices: slices, extraParams: extraParams)
    var aus: [TestAU] = []
    var picture = testPicture(width: width, height: height, &rng)
    for i in 0..<count {
        // New noise on even frames only: odd frames repeat the picture and code to tiny slices (single NAL packets).
        if i > 0 && i % 2 == 0 { picture = testPicture(width: width, height: height, &rng) }
        aus += enc.encode(picture, idr: idrAt.contains(i))
    }
    aus += enc.flush()
    return aus
}

/// Payload kind of an H.264 RTP payload: the NAL unit type in its first byte.
func payloadType<C: Collection>(_ p: C) -> UInt8 where C.Element == UInt8 { p.first! & 0x1F }
/// The FU header (second byte) of an FU-A payload.
func fuHeader<C: Collection>(_ p: C) -> UInt8 where C.Element == UInt8 { p.dropFirst().first! }
