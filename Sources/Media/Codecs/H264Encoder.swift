import CFFmpeg
import CShims

/// An H.264 encoder (libx264 through libavcodec) for real-time senders: I420 pictures in, one Annex B
/// access unit (4-byte start codes from libx264) out per picture, as a WebRTC sender such as Safari
/// packetizes it.
///
/// Defaults match a browser: constrained baseline (`profile-level-id 42e0xx`), no B-frames, `zerolatency`
/// tune (no lookahead, no frame delay), no scene-cut keyframes, an IDR every `keyframeInterval` pictures
/// and wherever `forceKeyframe` asks, SPS and PPS in front of every IDR (so a receiver can start there).
/// Rate control is a VBV-capped bitrate, or a constant QP when `Settings.qp` is set (tests).
///
/// The picture size is fixed. For a size change, create a new encoder: its first access unit is an IDR
/// with a new SPS, which `H264Decoder` follows in-band.
///
/// Owns one `AVCodecContext`, `AVFrame` and `AVPacket`, freed in `deinit`. `@unchecked Sendable` on
/// single-owner terms: no shared state, one caller at a time.
public final class H264Encoder: @unchecked Sendable {
    public enum Profile: String, Sendable, CaseIterable {
        /// Constrained baseline (x264's `baseline`: no CABAC, no B-frames, constraint_set1): what WebRTC negotiates.
        case constrainedBaseline = "baseline"
        case main
        case high
        /// High 4:4:4 Predictive: the I420 input is upsampled to 4:4:4 before encoding (test streams).
        case high444
    }

    public struct Settings: Sendable, Equatable {
        public var width: Int
        public var height: Int
        /// Frame rate; the time base of `pts` is `1/fps`.
        public var fps: Int
        /// Target bitrate (VBV-capped at the same rate over one second). Ignored when `qp` is set.
        public var bitrateKbps: Int
        /// Maximum distance between IDRs, in pictures.
        public var keyframeInterval: Int
        /// Encoder threads (`zerolatency` makes them slice threads: no added delay).
        public var threads: Int
        public var profile: Profile
        /// x264 preset: `ultrafast` ... `placebo`.
        public var preset: String
        /// Constant quantizer instead of a bitrate (0-51), for reproducible test streams.
        public var qp: Int?
        /// Slices per picture (one NAL unit each).
        public var slices: Int
        /// Extra `x264-params` (`key=value:key=value`), appended to flowrec's own.
        public var x264Params: String

        public init(width: Int, height: Int, fps: Int = 30, bitrateKbps: Int = 1_000, keyframeInterval: Int = 300,
                    threads: Int = 1, profile: Profile = .constrainedBaseline, preset: String = "ultrafast",
                    qp: Int? = nil, slices: Int = 1, x264Params: String = "") {
            self.width = width
            self.height = height
            self.fps = fps
            self.bitrateKbps = bitrateKbps
            self.keyframeInterval = keyframeInterval
            self.threads = threads
            self.profile = profile
            self.preset = preset
            self.qp = qp
            self.slices = slices
            self.x264Params = x264Params
        }
    }

    /// True when the linked libavcodec has the libx264 encoder (Debian's ffmpeg packages do).
    public static var isAvailable: Bool { avcodec_find_encoder_by_name("libx264") != nil }

    public let settings: Settings
    private var ctx: UnsafeMutablePointer<AVCodecContext>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?

    public init(_ settings: Settings) throws(CodecError) {
        self.settings = settings
        guard settings.width > 0, settings.height > 0, settings.width <= 16_384, settings.height <= 16_384,
              settings.width % 2 == 0 || settings.profile == .high444, settings.height % 2 == 0 || settings.profile == .high444 else {
            throw CodecError(codec: "h264", reason: "invalid picture size \(settings.width)x\(settings.height) (4:2:0 needs even sizes)")
        }
        guard settings.fps > 0, settings.bitrateKbps > 0, settings.keyframeInterval > 0, settings.threads > 0, settings.slices > 0 else {
            throw CodecError(codec: "h264", reason: "fps, bitrateKbps, keyframeInterval, threads and slices must be positive")
        }
        if let qp = settings.qp, !(0...51).contains(qp) {
            throw CodecError(codec: "h264", reason: "qp \(qp) is not 0...51")
        }
        guard let codec = avcodec_find_encoder_by_name("libx264") else {
            throw CodecError(codec: "h264", reason: "libavcodec has no libx264 encoder (needs an ffmpeg built with --enable-libx264)")
        }
        // From here on every stored property is set, so a throw runs `deinit`, which frees what was allocated.
        guard let c = avcodec_alloc_context3(codec) else {
            throw CodecError(codec: "h264", reason: "avcodec_alloc_context3 failed")
        }
        ctx = c
        let yuv444 = settings.profile == .high444
        c.pointee.width = Int32(settings.width)
        c.pointee.height = Int32(settings.height)
        c.pointee.time_base = AVRational(num: 1, den: Int32(settings.fps))
        c.pointee.framerate = AVRational(num: Int32(settings.fps), den: 1)
        c.pointee.pix_fmt = yuv444 ? AV_PIX_FMT_YUV444P : AV_PIX_FMT_YUV420P
        c.pointee.gop_size = Int32(settings.keyframeInterval)
        c.pointee.max_b_frames = 0
        c.pointee.thread_count = Int32(settings.threads)
        // libx264's banner ("using cpu capabilities", "profile ..., level ...") is info level: keep it out of
        // the user's terminal; warnings and errors still show.
        c.pointee.log_level_offset = 8
        if settings.qp == nil {
            let bps = Int64(settings.bitrateKbps) * 1000
            c.pointee.bit_rate = bps
            c.pointee.rc_max_rate = bps
            c.pointee.rc_buffer_size = Int32(clamping: bps)
        }
        let priv = c.pointee.priv_data
        try Self.option(priv, "preset", settings.preset)
        try Self.option(priv, "tune", "zerolatency")
        try Self.option(priv, "profile", settings.profile.rawValue)
        // A picture sent as AV_PICTURE_TYPE_I becomes an IDR, not just an I picture.
        try Self.option(priv, "forced-idr", "1")
        if let qp = settings.qp { try Self.option(priv, "qp", "\(qp)") }
        // No scene-cut keyframes: IDRs at the interval and where asked only (as real-time senders do).
        var params = "scenecut=0:slices=\(settings.slices):keyint-min=1"
        if !settings.x264Params.isEmpty { params += ":" + settings.x264Params }
        try Self.option(priv, "x264-params", params)
        var err = avcodec_open2(c, codec, nil)
        guard err >= 0 else {
            throw CodecError(codec: "h264", reason: "libx264 open (\(settings.width)x\(settings.height), \(settings.profile.rawValue)): \(avCodecErrorText(err))")
        }
        guard let f = av_frame_alloc(), let p = av_packet_alloc() else {
            throw CodecError(codec: "h264", reason: "av_frame_alloc/av_packet_alloc failed")
        }
        frame = f
        packet = p
        f.pointee.width = Int32(settings.width)
        f.pointee.height = Int32(settings.height)
        f.pointee.format = c.pointee.pix_fmt.rawValue
        err = av_frame_get_buffer(f, 0)
        guard err >= 0 else { throw CodecError(codec: "h264", reason: "av_frame_get_buffer: \(avCodecErrorText(err))") }
    }

    deinit {
        avcodec_free_context(&ctx)
        av_frame_free(&frame)
        av_packet_free(&packet)
    }

    private static func option(_ obj: UnsafeMutableRawPointer?, _ name: String, _ value: String) throws(CodecError) {
        let err = av_opt_set(obj, name, value, 0)
        guard err >= 0 else { throw CodecError(codec: "h264", reason: "libx264 option \(name)=\(value): \(avCodecErrorText(err))") }
    }

    /// Encodes one picture with presentation index `pts` (in 1/fps units); returns the access units it
    /// completed (with `zerolatency`: exactly this picture's). `forceKeyframe` makes it an IDR.
    /// The frame must have the configured size.
    public func encode(_ picture: I420Frame, pts: Int64, forceKeyframe: Bool = false) throws(CodecError) -> [EncodedPacket] {
        guard picture.width == settings.width, picture.height == settings.height else {
            throw CodecError(codec: "h264", reason: "frame is \(picture.width)x\(picture.height) but the encoder is \(settings.width)x\(settings.height); create a new encoder for a new size")
        }
        let chroma = picture.chromaWidth * picture.chromaHeight
        guard picture.y.count >= picture.width * picture.height, picture.u.count >= chroma, picture.v.count >= chroma else {
            throw CodecError(codec: "h264", reason: "frame planes are smaller than \(picture.width)x\(picture.height) I420")
        }
        guard let ctx, let f = frame else { throw CodecError(codec: "h264", reason: "encoder not initialized") }
        var err = av_frame_make_writable(f)
        guard err >= 0 else { throw CodecError(codec: "h264", reason: "av_frame_make_writable: \(avCodecErrorText(err))") }
        let upsample = settings.profile == .high444
        Self.put(picture.y, width: picture.width, height: picture.height, into: f.pointee.data.0, stride: f.pointee.linesize.0, upsample: false)
        Self.put(picture.u, width: picture.chromaWidth, height: picture.chromaHeight, into: f.pointee.data.1, stride: f.pointee.linesize.1,
                 upsample: upsample, outWidth: picture.width, outHeight: picture.height)
        Self.put(picture.v, width: picture.chromaWidth, height: picture.chromaHeight, into: f.pointee.data.2, stride: f.pointee.linesize.2,
                 upsample: upsample, outWidth: picture.width, outHeight: picture.height)
        f.pointee.pts = pts
        f.pointee.pict_type = forceKeyframe ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE
        err = avcodec_send_frame(ctx, f)
        guard err >= 0 else { throw CodecError(codec: "h264", reason: "avcodec_send_frame: \(avCodecErrorText(err))") }
        return try drain()
    }

    /// End of stream: the access units still held (none with `zerolatency`). The encoder cannot be used afterwards.
    public func flush() throws(CodecError) -> [EncodedPacket] {
        let err = avcodec_send_frame(ctx, nil)
        guard err >= 0 || err == flowrec_averror_eof() else {
            throw CodecError(codec: "h264", reason: "avcodec_send_frame (flush): \(avCodecErrorText(err))")
        }
        return try drain()
    }

    private func drain() throws(CodecError) -> [EncodedPacket] {
        guard let packet else { throw CodecError(codec: "h264", reason: "encoder not initialized") }
        var out: [EncodedPacket] = []
        while true {
            let err = avcodec_receive_packet(ctx, packet)
            if err == flowrec_averror_eagain() || err == flowrec_averror_eof() { break }
            guard err >= 0 else { throw CodecError(codec: "h264", reason: "avcodec_receive_packet: \(avCodecErrorText(err))") }
            let p = packet.pointee
            out.append(EncodedPacket(data: Array(UnsafeBufferPointer(start: p.data, count: Int(p.size))), pts: p.pts,
                                     isKeyframe: p.flags & AV_PKT_FLAG_KEY != 0))
            av_packet_unref(packet)
        }
        return out
    }

    /// Copies a tightly packed plane into a strided one; `upsample` doubles it (nearest) to `outWidth × outHeight`.
    private static func put(_ plane: [UInt8], width: Int, height: Int, into data: UnsafeMutablePointer<UInt8>?, stride: Int32,
                            upsample: Bool, outWidth: Int = 0, outHeight: Int = 0) {
        guard let data else { return }
        let stride = Int(stride)
        plane.withUnsafeBufferPointer { src in
            guard let base = src.baseAddress else { return }
            if !upsample {
                for row in 0..<height { (data + row * stride).update(from: base + row * width, count: width) }
                return
            }
            for row in 0..<outHeight {
                let srcRow = base + min(row / 2, height - 1) * width
                let dst = data + row * stride
                for col in 0..<outWidth { dst[col] = srcRow[min(col / 2, width - 1)] }
            }
        }
    }
}
