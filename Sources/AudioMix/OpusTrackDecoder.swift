import Media

/// What an `OpusTrackDecoder` has done so far. Durations are samples per channel at 48 kHz.
public struct OpusTrackStats: Sendable, Equatable {
    /// Packets decoded normally.
    public var decoded = 0
    /// Concealed stretches of up to 20 ms each (lost packets, corrupt packets), PLC.
    public var concealedFrames = 0
    /// Lost frames recovered from the next packet's in-band FEC.
    public var fecRecovered = 0
    /// Samples per channel of silence inserted for gaps longer than the concealment limit.
    public var silenceSamples: Int64 = 0
    /// Packets libopus rejected (or that were not Opus); replaced by concealment.
    public var corrupt = 0
    /// Packets whose timestamp is before the end of what was already output; dropped.
    public var backwardsDropped = 0

    public init() {}
}

/// Decodes one participant's Opus frames (in RTP order, possibly with gaps) into a continuous 48 kHz
/// PCM stream positioned by RTP timestamp.
///
/// - A gap of up to `maxConcealMillis` is filled by packet-loss concealment; when the packet after the
///   gap carries in-band FEC (LBRR), its last lost frame is recovered from it instead.
/// - A longer gap (DTX, mute, leave) becomes silence of exactly the gap's length, and the libopus
///   decoder restarts fresh, so stale state does not click into the new talk spurt.
/// - A packet libopus rejects (or an empty or non-Opus frame) is counted in `stats.corrupt` and
///   concealed by the gap filling before the next packet (its own TOC is not trusted for a duration).
/// - A packet whose timestamp is before the end of the PCM already returned is dropped
///   (`stats.backwardsDropped`): the returned PCM is final.
///
/// The timeline maps RTP timestamp t to the decoder's output sample t; the Opus pre-skip (encoder
/// lookahead, 6.5 ms for libopus) is not removed, it is one constant delay for every participant.
///
/// Not internally synchronised; one owner at a time (hence `@unchecked Sendable`, like `OpusDecoder`).
public final class OpusTrackDecoder: @unchecked Sendable {
    /// Output channels (interleaved when 2). A stereo stream is downmixed by libopus when 1.
    public let channels: Int
    /// The longest gap concealed with PLC/FEC; longer gaps are silence.
    public let maxConcealMillis: Int
    public private(set) var stats = OpusTrackStats()

    private var decoder: OpusDecoder
    /// RTP timestamp of the next sample to output; nil before the first packet.
    private var nextTimestamp: Int64?

    /// Gaps longer than this are not returned as zeros (see `decode`).
    public let maxSilenceMillis: Int

    private var maxConcealSamples: Int64 { Int64(maxConcealMillis) * 48 }
    private var maxSilenceSamples: Int64 { Int64(maxSilenceMillis) * 48 }

    /// - Parameters:
    ///   - channels: output channels, 1 or 2.
    ///   - maxConcealMillis: longest gap filled by PLC/FEC; longer gaps are silence.
    ///   - maxSilenceMillis: longest silence returned as zeros; a longer gap (a participant away for
    ///     minutes, a bogus timestamp jump) is not materialised: the next block simply starts later.
    public init(channels: Int = 1, maxConcealMillis: Int = 100, maxSilenceMillis: Int = 60_000) throws(CodecError) {
        self.channels = channels
        self.maxConcealMillis = max(0, maxConcealMillis)
        self.maxSilenceMillis = max(self.maxConcealMillis, maxSilenceMillis)
        self.decoder = try OpusDecoder(sampleRate: 48_000, channels: channels)
    }

    /// Returns the PCM that now becomes final: interleaved samples for RTP time
    /// `[startTimestamp, startTimestamp + samples.count / channels)`. The first call starts at that
    /// frame's timestamp; later calls continue where the previous one ended, gaps filled, except after
    /// a gap longer than `maxSilenceMillis`, where the block starts at the new packet's timestamp.
    /// A dropped packet returns no samples. Never throws or traps on bad input.
    public func decode(_ frame: EncodedFrame) -> (startTimestamp: Int64, samples: [Int16]) {
        let ts = frame.rtpTimestamp
        let start = nextTimestamp ?? ts
        if ts < start {
            stats.backwardsDropped += 1
            return (start, [])
        }
        var out: [Int16] = []
        var outStart = start
        let packet = frame.data
        let valid = frame.codec == .opus && !packet.isEmpty
        let gap = ts - start
        if gap > 0 {
            if gap <= maxConcealSamples {
                conceal(gap, before: valid ? packet : nil, into: &out)
            } else {
                if gap <= maxSilenceSamples {
                    appendSilence(gap, into: &out)
                } else {
                    // Not materialised: the caller positions the block by its start timestamp.
                    stats.silenceSamples += gap
                    outStart = ts
                }
                // Fresh decoder: the previous talk spurt's state would only add a click.
                if let fresh = try? OpusDecoder(sampleRate: 48_000, channels: channels) { decoder = fresh }
            }
        }
        if valid, let pcm = try? decoder.decode(packet) {
            stats.decoded += 1
            out.append(contentsOf: pcm)
            nextTimestamp = ts + Int64(pcm.count / channels)
        } else {
            // A corrupt packet's TOC is no more trustworthy than the rest of it: its stretch is
            // concealed by the gap filling before the next packet, whose timestamp is reliable.
            stats.corrupt += 1
            nextTimestamp = ts
        }
        return (outStart, out)
    }

    /// Fills `gap` samples per channel before `nextPacket`: PLC, with the last lost frame recovered
    /// from `nextPacket`'s in-band FEC when it carries any.
    private func conceal(_ gap: Int64, before nextPacket: [UInt8]?, into out: inout [Int16]) {
        // libopus conceals in 2.5 ms steps; an odd remainder (not seen from real senders) is silence.
        let remainder = gap % 120
        if remainder > 0 { appendSilence(remainder, into: &out) }
        var aligned = gap - remainder
        guard aligned > 0 else { return }
        if let packet = nextPacket, let toc = packet.first, OpusPacketProbe.hasLBRR(packet) {
            let fecSpan = Int64(OpusPacketInfo.frameSampleCount(toc: toc))
            if fecSpan <= aligned {
                concealPLC(aligned - fecSpan, into: &out)
                aligned = fecSpan
                if let pcm = try? decoder.decodeFEC(packet, samples: Int(fecSpan)) {
                    append(pcm, exactly: fecSpan, into: &out)
                    stats.fecRecovered += 1
                    return
                }
            }
        }
        concealPLC(aligned, into: &out)
    }

    /// PLC for `count` samples per channel (a multiple of 120), in steps of at most 20 ms.
    private func concealPLC(_ count: Int64, into out: inout [Int16]) {
        var left = count
        while left > 0 {
            let step = min(left, 960)
            let aligned = step - step % 120
            if aligned == 0 {
                appendSilence(step, into: &out)
            } else if let pcm = try? decoder.concealLoss(samples: Int(aligned)) {
                append(pcm, exactly: aligned, into: &out)
                stats.concealedFrames += 1
                if aligned < step { appendSilence(step - aligned, into: &out) }
            } else {
                appendSilence(step, into: &out)
            }
            left -= step
        }
    }

    /// Appends `pcm`, cut or zero-padded to exactly `count` samples per channel, so the timeline
    /// never drifts whatever libopus returns.
    private func append(_ pcm: [Int16], exactly count: Int64, into out: inout [Int16]) {
        let want = Int(count) * channels
        if pcm.count >= want {
            out.append(contentsOf: pcm[0..<want])
        } else {
            out.append(contentsOf: pcm)
            out.append(contentsOf: repeatElement(0, count: want - pcm.count))
        }
    }

    private func appendSilence(_ count: Int64, into out: inout [Int16]) {
        stats.silenceSamples += count
        out.append(contentsOf: repeatElement(0, count: Int(count) * channels))
    }
}
