import COpus
import CVPX
import CShims

// Module `Media`: everything between an RTP packet and a raw picture or PCM buffer.
//
// - `MediaTypes.swift`: the shared value types (`Codec`, `MediaKind`, `EncodedFrame`, `I420Frame`).
// - `RTPMedia/`: depacketizers and the jitter buffer (RTP → `EncodedFrame`).
// - `Codecs/`: the codec wrappers over the C libraries, each a final class owning one C context:
//   `OpusEncoder`/`OpusDecoder` (libopus, with PLC and in-band FEC), `VPXEncoder`/`VPXDecoder`
//   (libvpx VP8/VP9), `H264Decoder` (libavcodec), `H264Encoder` (libx264 via libavcodec), the `VideoDecoding` protocol over the video
//   decoders (`makeVideoDecoder`), the `CodecError` they throw, and test-signal helpers (`sineWave`,
//   `goertzelPower`, `dominantFrequency`, `I420Frame.fill`/`averageColor`) for tests that
//   check media by decoding it.

/// libopus version string, proving the binding links.
let opusVersion = String(cString: opus_get_version_string())
