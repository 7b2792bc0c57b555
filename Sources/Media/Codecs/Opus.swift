import COpus
import CShims

/// libopus' text for an error code (`OPUS_BAD_ARG` → "invalid argument").
func opusErrorText(_ code: Int32) -> String {
    String(cString: opus_strerror(code))
}

/// Largest Opus frame: 120 ms at 48 kHz, per channel (RFC 6716).
private let maxFrameSamplesAt48k = 5_760

/// Sample rates libopus accepts.
private let opusSampleRates: Set<Int> = [8_000, 12_000, 16_000, 24_000, 48_000]

/// An Opus encoder (libopus) for interleaved 16-bit PCM.
///
/// Owns one `OpusEncoder*`, freed in `deinit`. Thread safety: not internally synchronised;
/// it keeps no global or shared state, so it may be handed from thread to thread as long as
/// one owner at a time calls it (the same contract as the C object). That single-owner rule
/// is why it is `@unchecked Sendable`.
public final class OpusEncoder: @unchecked Sendable {
    /// The libopus application mode.
    public enum Application: Sendable {
        /// Speech, with in-band FEC and DTX support tuned for calls.
        case voip
        /// Music or mixed content.
        case audio
        /// Lowest algorithmic delay (CELT only; no FEC).
        case restrictedLowDelay

        var opusValue: Int32 {
            switch self {
            case .voip: OPUS_APPLICATION_VOIP
            case .audio: OPUS_APPLICATION_AUDIO
            case .restrictedLowDelay: OPUS_APPLICATION_RESTRICTED_LOWDELAY
            }
        }
    }

    public let sampleRate: Int
    public let channels: Int
    private let encoder: OpaquePointer
    /// Output scratch, reused for every packet (1275 bytes is the largest single-frame packet; a
    /// little more covers multi-frame packets of long frames).
    private var scratch = [UInt8](repeating: 0, count: 4_000)

    /// - Parameters:
    ///   - inbandFEC: embed LBRR data for the previous frame, so a receiver can recover one lost
    ///     packet from the next one (`OpusDecoder.decodeFEC`). libopus only emits FEC when it also
    ///     expects loss, so `packetLossPercent` defaults to 10 when FEC is on.
    ///   - packetLossPercent: expected loss (0...100) that tunes FEC; nil = 10 with FEC, else 0.
    public init(sampleRate: Int = 48_000, channels: Int = 1, bitrate: Int = 32_000,
                application: Application = .voip, inbandFEC: Bool = false,
                packetLossPercent: Int? = nil) throws(CodecError) {
        guard opusSampleRates.contains(sampleRate) else {
            throw CodecError(codec: "opus", reason: "unsupported sample rate \(sampleRate) (8000, 12000, 16000, 24000 or 48000)")
        }
        guard channels == 1 || channels == 2 else {
            throw CodecError(codec: "opus", reason: "unsupported channel count \(channels) (1 or 2)")
        }
        var err: Int32 = OPUS_OK
        guard let enc = opus_encoder_create(Int32(sampleRate), Int32(channels), application.opusValue, &err),
              err == OPUS_OK else {
            throw CodecError(codec: "opus", reason: "opus_encoder_create: \(opusErrorText(err))")
        }
        self.encoder = enc
        self.sampleRate = sampleRate
        self.channels = channels
        try check(flowrec_opus_set_bitrate(enc, Int32(bitrate)), "set bitrate \(bitrate)")
        try check(flowrec_opus_set_inband_fec(enc, inbandFEC ? 1 : 0), "set inband FEC")
        let loss = packetLossPercent ?? (inbandFEC ? 10 : 0)
        try check(flowrec_opus_set_packet_loss_perc(enc, Int32(max(0, min(100, loss)))), "set packet loss \(loss)%")
    }

    deinit { opus_encoder_destroy(encoder) }

    private func check(_ code: Int32, _ what: String) throws(CodecError) {
        if code != OPUS_OK { throw CodecError(codec: "opus", reason: "\(what): \(opusErrorText(code))") }
    }

    /// Encoder delay in samples at `sampleRate`; write it as the OpusHead pre-skip
    /// (scaled to 48 kHz when `sampleRate` is lower).
    public var lookahead: Int {
        var value: Int32 = 0
        _ = flowrec_opus_get_lookahead(encoder, &value)
        return Int(value)
    }

    /// Changes the expected packet loss (tunes in-band FEC).
    public func setPacketLossPercent(_ percent: Int) throws(CodecError) {
        try check(flowrec_opus_set_packet_loss_perc(encoder, Int32(max(0, min(100, percent)))), "set packet loss \(percent)%")
    }

    /// Changes the target bitrate in bits per second.
    public func setBitrate(_ bitrate: Int) throws(CodecError) {
        try check(flowrec_opus_set_bitrate(encoder, Int32(bitrate)), "set bitrate \(bitrate)")
    }

    /// Encodes exactly one frame of `frameSamples` per channel (interleaved Int16),
    /// e.g. 960 = 20 ms at 48 kHz. Valid durations: 2.5, 5, 10, 20, 40, 60 ms.
    public func encode(_ pcm: [Int16]) throws(CodecError) -> [UInt8] {
        guard pcm.count % channels == 0 else {
            throw CodecError(codec: "opus", reason: "\(pcm.count) samples is not a whole number of \(channels)-channel frames")
        }
        let frameSamples = pcm.count / channels
        // 2.5 ms multiples that libopus accepts: 1, 2, 4, 8, 16, 24 × 2.5 ms.
        let unit = sampleRate / 400
        guard frameSamples % unit == 0, [1, 2, 4, 8, 16, 24].contains(frameSamples / unit) else {
            throw CodecError(codec: "opus", reason: "invalid frame size \(frameSamples) samples per channel at \(sampleRate) Hz (2.5/5/10/20/40/60 ms)")
        }
        let capacity = Int32(scratch.count)
        let n = pcm.withUnsafeBufferPointer { src in
            scratch.withUnsafeMutableBufferPointer { dst in
                opus_encode(encoder, src.baseAddress!, Int32(frameSamples), dst.baseAddress!, capacity)
            }
        }
        guard n >= 0 else {
            throw CodecError(codec: "opus", reason: "opus_encode: \(opusErrorText(n))")
        }
        return Array(scratch[0..<Int(n)])
    }
}

/// An Opus decoder (libopus) producing interleaved 16-bit PCM, with packet loss concealment
/// and in-band FEC recovery.
///
/// Owns one `OpusDecoder*`, freed in `deinit`. `@unchecked Sendable` on the same single-owner
/// terms as `OpusEncoder`: no shared state, one caller at a time.
public final class OpusDecoder: @unchecked Sendable {
    public let sampleRate: Int
    public let channels: Int
    private let decoder: OpaquePointer
    /// PCM scratch for the largest frame (120 ms), reused for every call.
    private var scratch: [Int16]
    private let maxFrameSamples: Int

    public init(sampleRate: Int = 48_000, channels: Int = 1) throws(CodecError) {
        guard opusSampleRates.contains(sampleRate) else {
            throw CodecError(codec: "opus", reason: "unsupported sample rate \(sampleRate) (8000, 12000, 16000, 24000 or 48000)")
        }
        guard channels == 1 || channels == 2 else {
            throw CodecError(codec: "opus", reason: "unsupported channel count \(channels) (1 or 2)")
        }
        var err: Int32 = OPUS_OK
        guard let dec = opus_decoder_create(Int32(sampleRate), Int32(channels), &err), err == OPUS_OK else {
            throw CodecError(codec: "opus", reason: "opus_decoder_create: \(opusErrorText(err))")
        }
        self.decoder = dec
        self.sampleRate = sampleRate
        self.channels = channels
        self.maxFrameSamples = maxFrameSamplesAt48k * sampleRate / 48_000
        self.scratch = [Int16](repeating: 0, count: maxFrameSamples * channels)
    }

    deinit { opus_decoder_destroy(decoder) }

    /// Calls `opus_decode` into the scratch buffer and copies out `samples × channels` values.
    private func run(_ packet: [UInt8]?, frameSize: Int, fec: Bool, what: String) throws(CodecError) -> [Int16] {
        guard frameSize > 0, frameSize <= maxFrameSamples else {
            throw CodecError(codec: "opus", reason: "\(what): frame size \(frameSize) outside 1...\(maxFrameSamples)")
        }
        let n: Int32 = scratch.withUnsafeMutableBufferPointer { out in
            if let packet {
                packet.withUnsafeBufferPointer { src in
                    opus_decode(decoder, src.baseAddress, Int32(src.count), out.baseAddress!, Int32(frameSize), fec ? 1 : 0)
                }
            } else {
                opus_decode(decoder, nil, 0, out.baseAddress!, Int32(frameSize), 0)
            }
        }
        guard n >= 0 else {
            throw CodecError(codec: "opus", reason: "\(what): \(opusErrorText(n))")
        }
        return Array(scratch[0..<(Int(n) * channels)])
    }

    /// Decodes one packet into interleaved samples (`samples per channel × channels` values).
    public func decode(_ packet: [UInt8]) throws(CodecError) -> [Int16] {
        guard !packet.isEmpty else {
            throw CodecError(codec: "opus", reason: "decode: empty packet (use concealLoss for a lost packet)")
        }
        return try run(packet, frameSize: maxFrameSamples, fec: false, what: "opus_decode")
    }

    /// Packet loss concealment: synthesises `samples` per channel (a multiple of 2.5 ms) in place of
    /// a lost packet, continuing from what was decoded before.
    public func concealLoss(samples: Int) throws(CodecError) -> [Int16] {
        try run(nil, frameSize: samples, fec: false, what: "opus_decode (PLC)")
    }

    /// Recovers the *previous*, lost frame (`samples` per channel, its duration) from the in-band FEC
    /// data carried by `nextPacket`. Call `decode(nextPacket)` afterwards for the next frame itself.
    /// When `nextPacket` carries no FEC, libopus falls back to concealment.
    public func decodeFEC(_ nextPacket: [UInt8], samples: Int) throws(CodecError) -> [Int16] {
        try run(nextPacket, frameSize: samples, fec: true, what: "opus_decode (FEC)")
    }
}
