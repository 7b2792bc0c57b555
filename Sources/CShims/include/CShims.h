/// Thin `static inline` wrappers for C APIs that Swift cannot import directly:
/// variadic `*_ctl` / `*_control` calls and function-like macros. Every name is
/// prefixed `flowrec_` so it cannot clash with the libraries' own symbols.
#ifndef FLOWREC_CSHIMS_H
#define FLOWREC_CSHIMS_H

#include <opus/opus.h>
#include <vpx/vpx_encoder.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>
#include <libavutil/error.h>
#include <libavutil/avutil.h>

// MARK: libopus

static inline int flowrec_opus_set_bitrate(OpusEncoder *enc, opus_int32 bitrate) {
    return opus_encoder_ctl(enc, OPUS_SET_BITRATE(bitrate));
}
static inline int flowrec_opus_set_complexity(OpusEncoder *enc, opus_int32 complexity) {
    return opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(complexity));
}
static inline int flowrec_opus_set_inband_fec(OpusEncoder *enc, opus_int32 on) {
    return opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(on));
}
static inline int flowrec_opus_set_packet_loss_perc(OpusEncoder *enc, opus_int32 perc) {
    return opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(perc));
}
static inline int flowrec_opus_set_dtx(OpusEncoder *enc, opus_int32 on) {
    return opus_encoder_ctl(enc, OPUS_SET_DTX(on));
}
static inline int flowrec_opus_get_lookahead(OpusEncoder *enc, opus_int32 *out) {
    return opus_encoder_ctl(enc, OPUS_GET_LOOKAHEAD(out));
}
static inline int flowrec_opus_set_signal(OpusEncoder *enc, opus_int32 signal) {
    return opus_encoder_ctl(enc, OPUS_SET_SIGNAL(signal));
}
static inline int flowrec_opus_set_vbr(OpusEncoder *enc, opus_int32 on) {
    return opus_encoder_ctl(enc, OPUS_SET_VBR(on));
}

// MARK: libvpx

static inline vpx_codec_err_t flowrec_vpx_enc_init(vpx_codec_ctx_t *ctx, vpx_codec_iface_t *iface,
                                                   const vpx_codec_enc_cfg_t *cfg, vpx_codec_flags_t flags) {
    return vpx_codec_enc_init(ctx, iface, cfg, flags);
}
static inline vpx_codec_err_t flowrec_vpx_dec_init(vpx_codec_ctx_t *ctx, vpx_codec_iface_t *iface,
                                                   const vpx_codec_dec_cfg_t *cfg, vpx_codec_flags_t flags) {
    return vpx_codec_dec_init(ctx, iface, cfg, flags);
}
static inline vpx_codec_err_t flowrec_vpx_control_int(vpx_codec_ctx_t *ctx, int id, int value) {
    return vpx_codec_control_(ctx, id, value);
}
/// Reads the frame fields of a `VPX_CODEC_CX_FRAME_PKT` packet (the payload lives in an anonymous union).
/// Returns 0 when `pkt` is not a frame packet.
static inline int flowrec_vpx_pkt_frame(const vpx_codec_cx_pkt_t *pkt, const uint8_t **buf, size_t *size,
                                        vpx_codec_pts_t *pts, vpx_codec_frame_flags_t *flags) {
    if (pkt->kind != VPX_CODEC_CX_FRAME_PKT) return 0;
    *buf = (const uint8_t *)pkt->data.frame.buf;
    *size = pkt->data.frame.sz;
    *pts = pkt->data.frame.pts;
    *flags = pkt->data.frame.flags;
    return 1;
}

// MARK: libavutil

static inline int flowrec_averror(int errnum) { return AVERROR(errnum); }
static inline int flowrec_averror_eof(void) { return AVERROR_EOF; }
static inline int flowrec_averror_eagain(void) { return AVERROR(EAGAIN); }

#endif
