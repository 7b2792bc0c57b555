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

// MARK: - OpenSSL (DTLS)
// Function-like macros of libssl / libcrypto, used by the DTLS module.

#include <openssl/ssl.h>
#include <openssl/bio.h>

static inline int flowrec_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
static inline int flowrec_ssl_ctx_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}
static inline void flowrec_ssl_ctx_disable_renegotiation(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
}
/// As a server, choose the cipher suite by our list's order rather than the client's.
static inline void flowrec_ssl_ctx_prefer_server_ciphers(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
}
/// Turns off MTU discovery (memory BIOs have no path MTU) and fixes the link MTU instead.
static inline void flowrec_ssl_set_fixed_mtu(SSL *ssl, long mtu) {
    SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
    DTLS_set_link_mtu(ssl, mtu);
}
/// Time left on the DTLS retransmission timer: returns 1 and fills `*millis` (rounded up)
/// when a timer runs, 0 when none does.
static inline int flowrec_dtls_get_timeout_millis(SSL *ssl, long long *millis) {
    struct timeval tv;
    if (DTLSv1_get_timeout(ssl, &tv) != 1) return 0;
    *millis = (long long)tv.tv_sec * 1000 + ((long long)tv.tv_usec + 999) / 1000;
    return 1;
}
static inline int flowrec_dtls_handle_timeout(SSL *ssl) {
    return (int)DTLSv1_handle_timeout(ssl);
}
static inline int flowrec_bio_reset(BIO *bio) {
    return (int)BIO_reset(bio);
}
/// Makes an empty memory BIO report "retry" (not EOF) on read.
static inline void flowrec_bio_set_mem_eof_retry(BIO *bio) {
    BIO_set_mem_eof_return(bio, -1);
}
static inline void *flowrec_ssl_get_app_data(const SSL *ssl) {
    return SSL_get_app_data(ssl);
}
static inline int flowrec_ssl_set_app_data(SSL *ssl, void *data) {
    return SSL_set_app_data(ssl, data);
}

#endif
