import CVPX
import CShims

/// One compressed picture from `VPXEncoder`.
public struct EncodedPacket: Sendable, Equatable {
    /// The VP8 frame or VP9 (super)frame, as WebM and `VPXDecoder` take it.
    public var data: [UInt8]
    /// Presentation index, in the encoder's `1/fps` time base (what was passed to `encode`).
    public var pts: Int64
    /// True for a keyframe (decodable on its own).
    public var isKeyframe: Bool

    public init(data: [UInt8], pts: Int64, isKeyframe: Bool) {
        self.data = data
        self.pts = pts
        self.isKeyframe = isKeyframe
    }
}

/// Text for a libvpx failure: the context's error plus its detail when set.
private func vpxErrorText(_ ctx: UnsafeMutablePointer<vpx_codec_ctx_t>?, _ err: vpx_codec_err_t) -> String {
    var text = String(cString: vpx_codec_err_to_string(err))
    if let ctx {
        if let detail = vpx_codec_error_detail(ctx) {
            text += " (\(String(cString: detail)))"
        }
    }
    return text
}

private func vpxInterface(_ codec: Codec, encoder: Bool) -> OpaquePointer? {
    switch (codec, encoder) {
    case (.vp8, true): vpx_codec_vp8_cx()
    case (.vp9, true): vpx_codec_vp9_cx()
    case (.vp8, false): vpx_codec_vp8_dx()
    case (.vp9, false): vpx_codec_vp9_dx()
    default: nil
    }
}

/// A VP8 or VP9 encoder (libvpx), one-pass, no lag: every `encode` returns the packet of that
/// picture (or nothing when the rate control drops it), so `flush` normally returns nothing.
///
/// Owns one `vpx_codec_ctx_t` (destroyed in `deinit`) and one reusable `vpx_image_t` header
/// that points straight at the caller's `I420Frame` planes for the duration of `encode`
/// (no copy, no per-frame allocation besides the returned packet bytes).
/// `@unchecked Sendable`: no shared or global state; one owner at a time may call it from any
/// thread (the same contract as the libvpx context).
///
/// The picture size is fixed. For a size change, create a new encoder with the new size;
/// its first packet is a keyframe carrying the new size, which `VPXDecoder` follows in-band.
public final class VPXEncoder: @unchecked Sendable {
    public enum Deadline: Sendable {
        /// `VPX_DL_REALTIME`: fastest, for live paths.
        case realtime
        /// `VPX_DL_GOOD_QUALITY`: slower, better; for offline transcodes.
        case good

        var vpxValue: UInt { self == .realtime ? UInt(VPX_DL_REALTIME) : UInt(VPX_DL_GOOD_QUALITY) }
    }

    public struct Settings: Sendable, Equatable {
        /// `.vp8` or `.vp9`.
        public var codec: Codec
        public var width: Int
        public var height: Int
        /// Frame rate; the time base of `pts` is `1/fps`.
        public var fps: Int
        /// Target bitrate (CBR for `.realtime`, VBR for `.good`).
        public var bitrateKbps: Int
        /// Maximum distance between keyframes, in frames.
        public var keyframeInterval: Int
        public var deadline: Deadline
        /// Speed/quality trade-off (`VP8E_SET_CPUUSED`): higher is faster. VP8 -16...16, VP9 -9...9.
        public var cpuUsed: Int
        /// Encoder threads (VP9 also gets tile columns and row multithreading to use them).
        public var threads: Int
        /// Error-resilient bitstream (each frame decodable after loss of earlier non-reference data).
        public var errorResilient: Bool

        public init(codec: Codec = .vp8, width: Int, height: Int, fps: Int = 30, bitrateKbps: Int = 1_000,
                    keyframeInterval: Int = 300, deadline: Deadline = .realtime, cpuUsed: Int = 8,
                    threads: Int = 2, errorResilient: Bool = false) {
            self.codec = codec
            self.width = width
            self.height = height
            self.fps = fps
            self.bitrateKbps = bitrateKbps
            self.keyframeInterval = keyframeInterval
            self.deadline = deadline
            self.cpuUsed = cpuUsed
            self.threads = threads
            self.errorResilient = errorResilient
        }
    }

    public let settings: Settings
    private let ctx: UnsafeMutablePointer<vpx_codec_ctx_t>
    private let image: UnsafeMutablePointer<vpx_image_t>
    private var initialized = false

    public init(_ settings: Settings) throws(CodecError) {
        let name = settings.codec.rawValue
        guard let iface = vpxInterface(settings.codec, encoder: true) else {
            throw CodecError(codec: name, reason: "VPXEncoder supports vp8 and vp9 only")
        }
        guard settings.width > 0, settings.height > 0, settings.width <= 16_384, settings.height <= 16_384 else {
            throw CodecError(codec: name, reason: "invalid picture size \(settings.width)x\(settings.height)")
        }
        guard settings.fps > 0, settings.bitrateKbps > 0, settings.keyframeInterval > 0, settings.threads > 0 else {
            throw CodecError(codec: name, reason: "fps, bitrateKbps, keyframeInterval and threads must be positive")
        }
        self.settings = settings
        ctx = .allocate(capacity: 1)
        ctx.initialize(to: vpx_codec_ctx_t())
        image = .allocate(capacity: 1)
        image.initialize(to: vpx_image_t())

        var cfg = vpx_codec_enc_cfg_t()
        var err = vpx_codec_enc_config_default(iface, &cfg, 0)
        guard err == VPX_CODEC_OK else {
            throw CodecError(codec: name, reason: "vpx_codec_enc_config_default: \(vpxErrorText(nil, err))")
        }
        cfg.g_w = UInt32(settings.width)
        cfg.g_h = UInt32(settings.height)
        cfg.g_timebase = vpx_rational(num: 1, den: Int32(settings.fps))
        cfg.rc_target_bitrate = UInt32(settings.bitrateKbps)
        cfg.g_threads = UInt32(settings.threads)
        cfg.g_error_resilient = settings.errorResilient ? vpx_codec_er_flags_t(VPX_ERROR_RESILIENT_DEFAULT) : 0
        cfg.g_lag_in_frames = 0
        cfg.g_pass = VPX_RC_ONE_PASS
        cfg.kf_mode = VPX_KF_AUTO
        cfg.kf_min_dist = 0
        cfg.kf_max_dist = UInt32(settings.keyframeInterval)
        if settings.deadline == .realtime {
            cfg.rc_end_usage = VPX_CBR
            cfg.rc_min_quantizer = 2
            cfg.rc_max_quantizer = 56
            cfg.rc_undershoot_pct = 50
            cfg.rc_overshoot_pct = 50
            cfg.rc_buf_sz = 1000
            cfg.rc_buf_initial_sz = 500
            cfg.rc_buf_optimal_sz = 600
        } else {
            cfg.rc_end_usage = VPX_VBR
        }

        // From here on every stored property is set, so a throw runs `deinit`, which frees
        // `ctx`/`image` (and destroys the context only once `initialized`).
        err = flowrec_vpx_enc_init(ctx, iface, &cfg, 0)
        guard err == VPX_CODEC_OK else {
            throw CodecError(codec: name, reason: "vpx_codec_enc_init: \(vpxErrorText(ctx, err))")
        }
        initialized = true

        try control(Int32(VP8E_SET_CPUUSED.rawValue), Int32(settings.cpuUsed), "VP8E_SET_CPUUSED")
        if settings.codec == .vp9 {
            // Tile columns are log2; enough to give every thread a column (libvpx caps by width).
            var log2Tiles = 0
            while (1 << (log2Tiles + 1)) <= settings.threads { log2Tiles += 1 }
            try control(Int32(VP9E_SET_TILE_COLUMNS.rawValue), Int32(log2Tiles), "VP9E_SET_TILE_COLUMNS")
            try control(Int32(VP9E_SET_ROW_MT.rawValue), settings.threads > 1 ? 1 : 0, "VP9E_SET_ROW_MT")
            if settings.deadline == .realtime {
                try control(Int32(VP9E_SET_AQ_MODE.rawValue), 3, "VP9E_SET_AQ_MODE")
            }
        } else if settings.deadline == .realtime {
            try control(Int32(VP8E_SET_STATIC_THRESHOLD.rawValue), 1, "VP8E_SET_STATIC_THRESHOLD")
        }

        // Describe an I420 picture of the configured size once; only plane pointers change per frame.
        let chromaW = (settings.width + 1) / 2
        let placeholder = UnsafeMutablePointer<UInt8>(bitPattern: 16)!
        guard vpx_img_wrap(image, VPX_IMG_FMT_I420, UInt32(settings.width), UInt32(settings.height), 1, placeholder) != nil else {
            throw CodecError(codec: name, reason: "vpx_img_wrap failed for \(settings.width)x\(settings.height)")
        }
        image.pointee.stride = (Int32(settings.width), Int32(chromaW), Int32(chromaW), 0)
    }

    deinit {
        if initialized { vpx_codec_destroy(ctx) }
        ctx.deinitialize(count: 1); ctx.deallocate()
        image.deinitialize(count: 1); image.deallocate()
    }

    /// The fastest `cpuUsed` of the codec (VP8 16, VP9 9).
    public var fastestCPUUsed: Int { settings.codec == .vp9 ? 9 : 16 }

    /// Changes the speed/quality trade-off from the next picture on (`VP8E_SET_CPUUSED`).
    public func setCPUUsed(_ value: Int) throws(CodecError) {
        try control(Int32(VP8E_SET_CPUUSED.rawValue), Int32(value), "VP8E_SET_CPUUSED")
    }

    private func control(_ id: Int32, _ value: Int32, _ what: String) throws(CodecError) {
        let err = flowrec_vpx_control_int(ctx, id, value)
        if err != VPX_CODEC_OK {
            throw CodecError(codec: settings.codec.rawValue, reason: "\(what)=\(value): \(vpxErrorText(ctx, err))")
        }
    }

    /// Encodes one picture with presentation index `pts` (in 1/fps units). May return 0 or more packets.
    /// The frame must have the configured size.
    public func encode(_ frame: I420Frame, pts: Int64, forceKeyframe: Bool = false) throws(CodecError) -> [EncodedPacket] {
        guard frame.width == settings.width, frame.height == settings.height else {
            throw CodecError(codec: settings.codec.rawValue,
                             reason: "frame is \(frame.width)x\(frame.height) but the encoder is \(settings.width)x\(settings.height); create a new encoder for a new size")
        }
        let chroma = frame.chromaWidth * frame.chromaHeight
        guard frame.y.count >= frame.width * frame.height, frame.u.count >= chroma, frame.v.count >= chroma else {
            throw CodecError(codec: settings.codec.rawValue, reason: "frame planes are shorter than \(frame.width)x\(frame.height) I420")
        }
        let flags: vpx_enc_frame_flags_t = forceKeyframe ? vpx_enc_frame_flags_t(VPX_EFLAG_FORCE_KF) : 0
        let err: vpx_codec_err_t = frame.y.withUnsafeBufferPointer { y in
            frame.u.withUnsafeBufferPointer { u in
                frame.v.withUnsafeBufferPointer { v in
                    // libvpx only reads the planes, and copies them before vpx_codec_encode returns.
                    image.pointee.planes = (UnsafeMutablePointer(mutating: y.baseAddress),
                                            UnsafeMutablePointer(mutating: u.baseAddress),
                                            UnsafeMutablePointer(mutating: v.baseAddress), nil)
                    let result = vpx_codec_encode(ctx, image, pts, 1, flags, settings.deadline.vpxValue)
                    image.pointee.planes = (nil, nil, nil, nil)
                    return result
                }
            }
        }
        guard err == VPX_CODEC_OK else {
            throw CodecError(codec: settings.codec.rawValue, reason: "vpx_codec_encode: \(vpxErrorText(ctx, err))")
        }
        return drain()
    }

    /// Signals end of stream and returns any packets libvpx still holds.
    public func flush() throws(CodecError) -> [EncodedPacket] {
        let err = vpx_codec_encode(ctx, nil, 0, 1, 0, settings.deadline.vpxValue)
        guard err == VPX_CODEC_OK else {
            throw CodecError(codec: settings.codec.rawValue, reason: "vpx_codec_encode (flush): \(vpxErrorText(ctx, err))")
        }
        return drain()
    }

    private func drain() -> [EncodedPacket] {
        var packets: [EncodedPacket] = []
        var iter: vpx_codec_iter_t? = nil
        while let pkt = vpx_codec_get_cx_data(ctx, &iter) {
            var buf: UnsafePointer<UInt8>? = nil
            var size = 0
            var pts: vpx_codec_pts_t = 0
            var flags: vpx_codec_frame_flags_t = 0
            guard flowrec_vpx_pkt_frame(pkt, &buf, &size, &pts, &flags) != 0, let buf, size > 0 else { continue }
            packets.append(EncodedPacket(data: Array(UnsafeBufferPointer(start: buf, count: size)), pts: pts,
                                         isKeyframe: flags & vpx_codec_frame_flags_t(VPX_FRAME_IS_KEY) != 0))
        }
        return packets
    }
}

/// A VP8 or VP9 decoder (libvpx) producing `I420Frame`s. Follows size changes in-band
/// (a keyframe with a new size yields pictures of the new size).
///
/// Owns one `vpx_codec_ctx_t`, destroyed in `deinit`. `@unchecked Sendable` on single-owner terms:
/// no shared state, one caller at a time.
public final class VPXDecoder: @unchecked Sendable {
    public let codec: Codec
    private let ctx: UnsafeMutablePointer<vpx_codec_ctx_t>
    private var initialized = false

    public init(codec: Codec, threads: Int = 2) throws(CodecError) {
        guard let iface = vpxInterface(codec, encoder: false) else {
            throw CodecError(codec: codec.rawValue, reason: "VPXDecoder supports vp8 and vp9 only")
        }
        self.codec = codec
        ctx = .allocate(capacity: 1)
        ctx.initialize(to: vpx_codec_ctx_t())
        var cfg = vpx_codec_dec_cfg_t(threads: UInt32(max(1, threads)), w: 0, h: 0)
        // A throw from here runs `deinit` (all stored properties are set), which frees `ctx`.
        let err = flowrec_vpx_dec_init(ctx, iface, &cfg, 0)
        guard err == VPX_CODEC_OK else {
            throw CodecError(codec: codec.rawValue, reason: "vpx_codec_dec_init: \(vpxErrorText(ctx, err))")
        }
        initialized = true
    }

    deinit {
        if initialized { vpx_codec_destroy(ctx) }
        ctx.deinitialize(count: 1); ctx.deallocate()
    }

    private func submit(_ data: [UInt8]) throws(CodecError) {
        guard !data.isEmpty else {
            throw CodecError(codec: codec.rawValue, reason: "vpx_codec_decode: empty frame")
        }
        let err = data.withUnsafeBufferPointer { buf in
            vpx_codec_decode(ctx, buf.baseAddress, UInt32(buf.count), nil, 0)
        }
        guard err == VPX_CODEC_OK else {
            throw CodecError(codec: codec.rawValue, reason: "vpx_codec_decode: \(vpxErrorText(ctx, err))")
        }
    }

    /// Decodes one frame; returns the picture(s) produced (a VP9 superframe gives its one shown picture;
    /// an invisible frame gives none).
    public func decode(_ data: [UInt8]) throws(CodecError) -> [I420Frame] {
        try submit(data)
        var frames: [I420Frame] = []
        var iter: vpx_codec_iter_t? = nil
        while let img = vpx_codec_get_frame(ctx, &iter) {
            var frame = I420Frame(width: 0, height: 0)
            try copy(img, into: &frame)
            frames.append(frame)
        }
        return frames
    }

    /// Decodes one frame into `frame`, reusing its plane storage when the size is unchanged (no
    /// allocation in steady state). Returns false when the data produced no shown picture; when it
    /// produced several, `frame` holds the last.
    public func decode(_ data: [UInt8], into frame: inout I420Frame) throws(CodecError) -> Bool {
        try submit(data)
        var produced = false
        var iter: vpx_codec_iter_t? = nil
        while let img = vpx_codec_get_frame(ctx, &iter) {
            try copy(img, into: &frame)
            produced = true
        }
        return produced
    }

    private func copy(_ img: UnsafeMutablePointer<vpx_image_t>, into frame: inout I420Frame) throws(CodecError) {
        let im = img.pointee
        guard im.fmt == VPX_IMG_FMT_I420 || im.fmt == VPX_IMG_FMT_YV12 else {
            throw CodecError(codec: codec.rawValue, reason: "unsupported decoded picture format \(im.fmt.rawValue) (only 8-bit 4:2:0)")
        }
        let w = Int(im.d_w), h = Int(im.d_h)
        let cw = (w + 1) / 2, ch = (h + 1) / 2
        if frame.width != w || frame.height != h || frame.y.count != w * h || frame.u.count != cw * ch || frame.v.count != cw * ch {
            frame = I420Frame(width: w, height: h)
        }
        // YV12 stores V before U; planes[1] is still Cb per libvpx's VPX_PLANE_U for both.
        let uPlane = im.fmt == VPX_IMG_FMT_YV12 ? im.planes.2 : im.planes.1
        let vPlane = im.fmt == VPX_IMG_FMT_YV12 ? im.planes.1 : im.planes.2
        Self.copyPlane(from: im.planes.0, stride: Int(im.stride.0), width: w, height: h, to: &frame.y)
        Self.copyPlane(from: uPlane, stride: Int(im.fmt == VPX_IMG_FMT_YV12 ? im.stride.2 : im.stride.1), width: cw, height: ch, to: &frame.u)
        Self.copyPlane(from: vPlane, stride: Int(im.fmt == VPX_IMG_FMT_YV12 ? im.stride.1 : im.stride.2), width: cw, height: ch, to: &frame.v)
    }

    private static func copyPlane(from src: UnsafeMutablePointer<UInt8>?, stride: Int, width: Int, height: Int, to dst: inout [UInt8]) {
        guard let src, width > 0, height > 0 else { return }
        dst.withUnsafeMutableBufferPointer { out in
            guard let base = out.baseAddress else { return }
            for row in 0..<height {
                (base + row * width).update(from: src + row * stride, count: width)
            }
        }
    }
}
