/// Picture sizes a video bitstream declares, and the bound a recorder holds them to before any
/// decoder or muxer sees them: a keyframe header may declare up to 16383×16383 (VP8), 65536×65536
/// (VP9) or more (H.264), and a decoder allocates its buffers for whatever it is told — about
/// 0.8 GB for one VP8 stream at 16383×16383, never given back while the decoder lives.

/// A picture's width and height in pixels.
public struct PictureSize: Sendable, Hashable, Codable, CustomStringConvertible {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// `WxH`, as `--max-picture` takes it and warnings say it.
    public var description: String { "\(width)x\(height)" }

    /// Parses `WxH` (two positive whole numbers); nil for anything else.
    public init?(parsing text: String) {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0 else { return nil }
        self.init(width: w, height: h)
    }
}

/// The largest picture a recording takes (`--max-picture`, default 4096×2304), either way up: a
/// picture fits when its longer side is within the limit's longer side and its shorter side within
/// the shorter one, so a portrait phone camera (1080×1920) fits a landscape limit.
public struct PictureSizeLimit: Sendable, Equatable, CustomStringConvertible {
    public var size: PictureSize

    /// 4096×2304: 4K UHD with room to spare, about 14 MB a decoded picture.
    public static let standard = PictureSizeLimit(PictureSize(width: 4096, height: 2304))
    /// What `--max-picture` accepts at most: past this no decoder or player copes either.
    public static let largest = PictureSize(width: 16384, height: 16384)

    public init(_ size: PictureSize) { self.size = size }

    public var description: String { size.description }

    /// Whether `picture` fits (either way up).
    public func admits(_ picture: PictureSize) -> Bool {
        let (long, short) = (max(size.width, size.height), min(size.width, size.height))
        return max(picture.width, picture.height) <= long && min(picture.width, picture.height) <= short
    }

    /// The first size `frame` declares that does not fit, or nil: the sizes its bitstream states
    /// (``declaredPictureSizes(_:)``) and the one the depacketizer set (a VP9 scalability structure).
    public func excess(in frame: EncodedFrame) -> PictureSize? {
        guard frame.codec.kind == .video else { return nil }
        var sizes = declaredPictureSizes(frame)
        if let w = frame.width, let h = frame.height { sizes.append(PictureSize(width: w, height: h)) }
        return sizes.first { !admits($0) }
    }
}

/// Every picture size a frame's bitstream declares, parsed from its headers without decoding:
/// - VP8: the keyframe header (RFC 6386 §9.1); interframes declare none;
/// - VP9: the uncompressed header of each frame of a superframe — keyframes, intra-only frames and
///   inter frames that state a size of their own (a size taken from a reference was declared before);
/// - H.264: every sequence parameter set in the access unit (a decoder sizes itself from the SPS
///   a slice activates, on an IDR or not).
///
/// A new codec adds its case here (AV1: `max_frame_width_minus_1`/`max_frame_height_minus_1` of
/// the sequence header OBU, and `frame_size()` of frames with `frame_size_override_flag`), so that
/// the recorder's bound (``PictureSizeLimit``) covers it before its decoder runs.
public func declaredPictureSizes(_ frame: EncodedFrame) -> [PictureSize] {
    let data = frame.data[...]
    switch frame.codec {
    case .opus:
        return []
    case .vp8:
        return VP8Depacketizer.keyframeSize(data).map { [PictureSize(width: $0.width, height: $0.height)] } ?? []
    case .vp9:
        return (VP9Superframe.split(data) ?? [data]).compactMap { part in
            VP9FrameHeader(parsing: part).flatMap { header in
                header.width.map { PictureSize(width: $0, height: header.height ?? 0) }
            }
        }
    case .h264:
        return AnnexB.nalUnits(in: data).compactMap { nal in
            guard nal.first.map({ $0 & 0x1F }) == H264NALType.sps, let sps = H264SPS(nal: nal) else { return nil }
            return PictureSize(width: sps.width, height: sps.height)
        }
    }
}
