import CFFmpeg
import CShims

// Module `WebM`: writes WebM (Matroska) files through libavformat. It owns the container side
// only — codec-agnostic packets in, a finished, seekable file out — and knows nothing about
// RTP or codecs beyond what the container header needs (VP8/VP9 size, OpusHead).
//
// See `WebMWriter` for the file lifecycle (`.partial`, finish, abort) and timestamp rules.

let avformatVersionNumber = avformat_version()

/// libavutil's text for an error code (what `av_err2str` gives), with the code itself.
func avErrorText(_ code: Int32) -> String {
    var buf = [CChar](repeating: 0, count: 128)
    if av_strerror(code, &buf, buf.count) < 0 {
        return "error \(code)"
    }
    let text = buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    return "\(text) (\(code))"
}
