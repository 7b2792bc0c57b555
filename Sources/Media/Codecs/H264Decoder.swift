import CFFmpeg
import CShims

/// libavutil's text for an error code, with the code itself.
func avCodecErrorText(_ code: Int32) -> String {
    var buf = [CChar](repeating: 0, count: 128)
    guard av_strerror(code, &buf, buf.count) >= 0 else { return "error \(code)" }
    let text = buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    return "\(text) (\(code))"
}

/// An H.264 decoder (libavcodec `h264`) taking Annex B access units, as `H264Depacketizer` returns them, and
/// producing `I420Frame`s. Pictures in another pixel format (4:2:2, 4:4:4, high bit depth) are converted to
/// 8-bit 4:2:0 with libswscale. Follows size changes in-band (an IDR with a new SPS).
///
/// Slice threading by default, so every access unit yields its picture at once (as `VPXDecoder` does);
/// `frameThreading` decodes faster on single-slice streams but returns pictures `threads - 1` calls late
/// (`flush()` drains them at the end).
///
/// A picture libavcodec flags as damaged (missing references, concealment) is not returned: `decode` throws
/// `CodecError` for it, like for data it rejects, and the caller counts and skips.
///
/// Owns one `AVCodecContext`, `AVPacket`, `AVFrame`, a padded input buffer and a cached `SwsContext`,
/// all freed in `deinit`. `@unchecked Sendable` on single-owner terms: no shared state, one caller at a time.
public final class H264Decoder: @unchecked Sendable {
    public let threads: Int
    public let frameThreading: Bool
    /// Pictures that were decoded but not returned because libavcodec flagged them as damaged.
    public private(set) var corruptPictures = 0

    private var ctx: UnsafeMutablePointer<AVCodecContext>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var picture: UnsafeMutablePointer<AVFrame>?
    private var sws: OpaquePointer?
    /// Input copy with `AV_INPUT_BUFFER_PADDING_SIZE` zero bytes after the data, as libavcodec requires.
    private var input: UnsafeMutablePointer<UInt8>?
    private var inputCapacity = 0
    private static let padding = Int(AV_INPUT_BUFFER_PADDING_SIZE)

    public init(threads: Int = 2, frameThreading: Bool = false) throws(CodecError) {
        self.threads = max(1, threads)
        self.frameThreading = frameThreading
        guard let codec = avcodec_find_decoder(AV_CODEC_ID_H264) else {
            throw CodecError(codec: "h264", reason: "libavcodec has no H.264 decoder")
        }
        // From here on every stored property is set, so a throw runs `deinit`, which frees what was allocated.
        guard let c = avcodec_alloc_context3(codec) else {
            throw CodecError(codec: "h264", reason: "avcodec_alloc_context3 failed")
        }
        ctx = c
        c.pointee.thread_count = Int32(self.threads)
        c.pointee.thread_type = frameThreading ? FF_THREAD_FRAME : FF_THREAD_SLICE
        let err = avcodec_open2(c, codec, nil)
        guard err >= 0 else {
            throw CodecError(codec: "h264", reason: "avcodec_open2: \(avCodecErrorText(err))")
        }
        guard let p = av_packet_alloc(), let f = av_frame_alloc() else {
            throw CodecError(codec: "h264", reason: "av_packet_alloc/av_frame_alloc failed")
        }
        packet = p
        picture = f
    }

    deinit {
        avcodec_free_context(&ctx)
        av_packet_free(&packet)
        av_frame_free(&picture)
        if let sws { sws_freeContext(sws) }
        input?.deallocate()
    }

    /// Decodes one access unit (Annex B); returns the picture(s) it completed: normally one, none while
    /// frame threading fills up. Throws for data libavcodec rejects and for damaged pictures.
    public func decode(_ data: [UInt8]) throws(CodecError) -> [I420Frame] {
        guard !data.isEmpty else { throw CodecError(codec: "h264", reason: "empty access unit") }
        try send(data)
        return try receive()
    }

    /// End of stream: returns the pictures still held by frame threading or reordering. The decoder can
    /// be used again afterwards (it is reset).
    public func flush() throws(CodecError) -> [I420Frame] {
        let err = avcodec_send_packet(ctx, nil)
        guard err >= 0 || err == flowrec_averror_eof() else {
            throw CodecError(codec: "h264", reason: "avcodec_send_packet (flush): \(avCodecErrorText(err))")
        }
        defer { avcodec_flush_buffers(ctx) }
        return try receive()
    }

    private func send(_ data: [UInt8]) throws(CodecError) {
        if inputCapacity < data.count + Self.padding {
            input?.deallocate()
            inputCapacity = max(data.count + Self.padding, inputCapacity * 2)
            input = .allocate(capacity: inputCapacity)
        }
        guard let input, let packet else { throw CodecError(codec: "h264", reason: "decoder not initialized") }
        data.withUnsafeBufferPointer { input.update(from: $0.baseAddress!, count: $0.count) }
        (input + data.count).initialize(repeating: 0, count: Self.padding)
        // Not reference-counted: avcodec_send_packet copies the data before returning.
        packet.pointee.data = input
        packet.pointee.size = Int32(data.count)
        let err = avcodec_send_packet(ctx, packet)
        packet.pointee.data = nil
        packet.pointee.size = 0
        guard err >= 0 else {
            throw CodecError(codec: "h264", reason: "avcodec_send_packet: \(avCodecErrorText(err))")
        }
    }

    private func receive() throws(CodecError) -> [I420Frame] {
        guard let picture else { throw CodecError(codec: "h264", reason: "decoder not initialized") }
        var frames: [I420Frame] = []
        var damaged = 0
        while true {
            let err = avcodec_receive_frame(ctx, picture)
            if err == flowrec_averror_eagain() || err == flowrec_averror_eof() { break }
            guard err >= 0 else {
                throw CodecError(codec: "h264", reason: "avcodec_receive_frame: \(avCodecErrorText(err))")
            }
            defer { av_frame_unref(picture) }
            if picture.pointee.decode_error_flags != 0 || picture.pointee.flags & AV_FRAME_FLAG_CORRUPT != 0 {
                corruptPictures += 1
                damaged += 1
                continue
            }
            frames.append(try convert(picture))
        }
        if frames.isEmpty && damaged > 0 {
            throw CodecError(codec: "h264", reason: "damaged picture (missing reference or concealed errors)")
        }
        return frames
    }

    private func convert(_ f: UnsafeMutablePointer<AVFrame>) throws(CodecError) -> I420Frame {
        let w = Int(f.pointee.width), h = Int(f.pointee.height)
        guard w > 0, h > 0, w <= 16384, h <= 16384 else {
            throw CodecError(codec: "h264", reason: "decoded picture has size \(w)x\(h)")
        }
        var frame = I420Frame(width: w, height: h)
        let cw = frame.chromaWidth, ch = frame.chromaHeight
        let format = f.pointee.format
        if format == AV_PIX_FMT_YUV420P.rawValue || format == AV_PIX_FMT_YUVJ420P.rawValue {
            Self.copyPlane(from: f.pointee.data.0, stride: Int(f.pointee.linesize.0), width: w, height: h, to: &frame.y)
            Self.copyPlane(from: f.pointee.data.1, stride: Int(f.pointee.linesize.1), width: cw, height: ch, to: &frame.u)
            Self.copyPlane(from: f.pointee.data.2, stride: Int(f.pointee.linesize.2), width: cw, height: ch, to: &frame.v)
            return frame
        }
        // Any other layout: libswscale to 8-bit 4:2:0, straight into the frame's planes.
        sws = sws_getCachedContext(sws, Int32(w), Int32(h), AVPixelFormat(rawValue: format),
                                   Int32(w), Int32(h), AV_PIX_FMT_YUV420P, SWS_BILINEAR, nil, nil, nil)
        guard let sws else {
            throw CodecError(codec: "h264", reason: "no conversion from pixel format \(format) to yuv420p")
        }
        let scaled: Int32 = frame.y.withUnsafeMutableBufferPointer { y in
            frame.u.withUnsafeMutableBufferPointer { u in
                frame.v.withUnsafeMutableBufferPointer { v in
                    var dst: [UnsafeMutablePointer<UInt8>?] = [y.baseAddress, u.baseAddress, v.baseAddress, nil]
                    var dstStride: [Int32] = [Int32(w), Int32(cw), Int32(cw), 0]
                    var src: [UnsafePointer<UInt8>?] = [UnsafePointer(f.pointee.data.0), UnsafePointer(f.pointee.data.1),
                                                        UnsafePointer(f.pointee.data.2), UnsafePointer(f.pointee.data.3)]
                    var srcStride: [Int32] = [f.pointee.linesize.0, f.pointee.linesize.1, f.pointee.linesize.2, f.pointee.linesize.3]
                    return sws_scale(sws, &src, &srcStride, 0, Int32(h), &dst, &dstStride)
                }
            }
        }
        guard scaled == Int32(h) else {
            throw CodecError(codec: "h264", reason: "sws_scale from pixel format \(format) failed (\(scaled))")
        }
        return frame
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
