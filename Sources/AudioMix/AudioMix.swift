/// Module `AudioMix`: Opus track decoding onto a sample timeline, and mixing with a limiter.
