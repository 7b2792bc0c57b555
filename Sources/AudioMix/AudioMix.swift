/// Module `AudioMix`: Opus track decoding onto a sample timeline, and mixing with a limiter.
///
/// - `OpusTrackDecoder`: one participant's Opus frames → continuous 48 kHz PCM positioned by RTP
///   timestamp (PLC, in-band FEC, silence for long gaps, corrupt/backwards packets counted).
/// - `PCMTimeline`: a bounded per-participant PCM ring indexed by room sample position.
/// - `AudioMixer`: Float sum of N blocks with per-input gain and a peak limiter (≤ -1 dBFS).
