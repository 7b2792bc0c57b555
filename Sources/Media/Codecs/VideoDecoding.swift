/// A video decoder the pipeline can drive without knowing the codec: one encoded frame (`EncodedFrame.data`)
/// in, the pictures it completed out. Errors are per frame: the caller counts them and goes on.
public protocol VideoDecoding: AnyObject {
    func decode(_ data: [UInt8]) throws(CodecError) -> [I420Frame]
}

extension VPXDecoder: VideoDecoding {}
extension H264Decoder: VideoDecoding {}

/// The decoder for a video codec: `VPXDecoder` for VP8/VP9, `H264Decoder` for H.264. Throws for audio codecs.
public func makeVideoDecoder(codec: Codec, threads: Int = 2) throws(CodecError) -> any VideoDecoding {
    switch codec {
    case .vp8, .vp9: return try VPXDecoder(codec: codec, threads: threads)
    case .h264: return try H264Decoder(threads: threads)
    case .opus: throw CodecError(codec: codec.rawValue, reason: "not a video codec")
    }
}
