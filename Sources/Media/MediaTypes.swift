/// Value types shared by every stage of the media path: codecs, encoded frames, raw frames.

/// Whether a stream carries sound or pictures.
public enum MediaKind: String, Sendable, Codable, CaseIterable {
    case audio, video
}

/// A codec flowrec can receive. The raw value is the lower-case SDP encoding name.
public enum Codec: String, Sendable, Codable, CaseIterable {
    case opus, vp8, vp9, h264

    /// Audio or video.
    public var kind: MediaKind { self == .opus ? .audio : .video }

    /// RTP clock rate in Hz (RFC 7587: Opus always 48 kHz; video 90 kHz).
    public var clockRate: Int { self == .opus ? 48_000 : 90_000 }

    /// Parses an SDP encoding name (`opus`, `VP8`, `vp9`, `H264`), case-insensitively.
    public init?(encodingName: String) {
        self.init(rawValue: encodingName.lowercased())
    }
}

/// One complete encoded media frame (an Opus packet, or a whole VP8/VP9/H.264 picture),
/// reassembled from RTP and ready for a decoder or a muxer.
public struct EncodedFrame: Sendable, Equatable {
    /// The codec of `data`.
    public var codec: Codec
    /// The frame bitstream as a decoder and WebM expect it (VP9: all spatial layers of one picture, superframe).
    public var data: [UInt8]
    /// RTP timestamp, unwrapped to 64 bits, in `codec.clockRate` units.
    public var rtpTimestamp: Int64
    /// Arrival time of the frame's first packet, microseconds on the capture's clock.
    public var arrivalMicros: Int64
    /// True when the frame can be decoded without any earlier frame.
    public var isKeyframe: Bool
    /// Picture size when the bitstream states it (keyframes), else nil.
    public var width: Int?
    public var height: Int?

    public init(codec: Codec, data: [UInt8], rtpTimestamp: Int64, arrivalMicros: Int64,
                isKeyframe: Bool, width: Int? = nil, height: Int? = nil) {
        self.codec = codec
        self.data = data
        self.rtpTimestamp = rtpTimestamp
        self.arrivalMicros = arrivalMicros
        self.isKeyframe = isKeyframe
        self.width = width
        self.height = height
    }
}

/// A planar YUV 4:2:0 picture (8-bit). Chroma planes are `(width+1)/2 × (height+1)/2`.
public struct I420Frame: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// Luma, `width × height`, tightly packed (stride == width).
    public var y: [UInt8]
    /// Cb, `chromaWidth × chromaHeight`, tightly packed.
    public var u: [UInt8]
    /// Cr, `chromaWidth × chromaHeight`, tightly packed.
    public var v: [UInt8]

    public var chromaWidth: Int { (width + 1) / 2 }
    public var chromaHeight: Int { (height + 1) / 2 }

    /// A frame filled with one colour.
    public init(width: Int, height: Int, y: UInt8 = 16, u: UInt8 = 128, v: UInt8 = 128) {
        self.width = width
        self.height = height
        self.y = [UInt8](repeating: y, count: width * height)
        let chroma = ((width + 1) / 2) * ((height + 1) / 2)
        self.u = [UInt8](repeating: u, count: chroma)
        self.v = [UInt8](repeating: v, count: chroma)
    }
}
