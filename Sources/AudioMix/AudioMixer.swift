import Foundation

/// Mixes N participant blocks into one at 48 kHz (mono, or interleaved stereo), with a gain per input
/// and a peak limiter.
///
/// Inputs are summed in Float (no integer wrap-around), then a look-ahead-free peak limiter brings
/// every output sample to at most `ceilingDBFS`: per sample frame (channels linked), the gain that
/// would put the frame's peak exactly at the ceiling is followed by a smoothed gain with a fast attack
/// (`attackMillis`), a hold (`holdMillis`) and a slow release (`releaseMillis`), and the applied gain
/// is the smaller of the two. The smoothed gain does the audible work once the attack has settled (a steady gain, no
/// waveshaping); the instantaneous one only catches what exceeds the ceiling during the attack, so
/// no sample ever reaches full scale. The final Int16 conversion rounds and clamps.
///
/// No heap allocation per block in steady state: the Float sum buffer is kept and grows only when a
/// block larger than any before arrives (or call `reserve`).
public struct AudioMixer: Sendable {
    public let channels: Int
    public let ceilingDBFS: Double
    /// Ceiling in sample units (`32767 × 10^(ceilingDBFS/20)`).
    private let ceiling: Float
    /// Per-sample smoothing coefficients (one-pole, 48 kHz): the share of the old gain kept.
    private let attackCoeff: Float
    private let releaseCoeff: Float
    /// Samples the gain is held after a peak before it starts to release.
    private let holdSamples: Int
    /// Hold samples left.
    private var holdLeft = 0
    /// Smoothed limiter gain, carried across blocks.
    private var gain: Float = 1
    /// Float sum of the inputs, interleaved; reused for every block.
    private var sum: [Float] = []

    public static let sampleRate = 48_000.0

    /// - Parameters:
    ///   - ceilingDBFS: the highest output peak, relative to 32767 (clamped to ≤ 0).
    ///   - attackMillis: time constant of the gain reduction.
    ///   - releaseMillis: time constant of the gain recovery.
    ///   - holdMillis: how long the gain stays put after a peak before releasing; longer than one
    ///     period of the lowest voice frequency, so a steady tone gets a steady gain (no ripple,
    ///     hence no distortion).
    public init(channels: Int = 1, ceilingDBFS: Double = -1, attackMillis: Double = 1, releaseMillis: Double = 150,
                holdMillis: Double = 20) {
        precondition(channels == 1 || channels == 2, "AudioMixer mixes mono or stereo")
        self.channels = channels
        self.ceilingDBFS = min(0, ceilingDBFS)
        self.ceiling = Float(32_767 * pow(10, self.ceilingDBFS / 20))
        func coefficient(_ millis: Double) -> Float {
            millis <= 0 ? 0 : Float(exp(-1 / (millis / 1_000 * Self.sampleRate)))
        }
        self.attackCoeff = coefficient(attackMillis)
        self.releaseCoeff = coefficient(releaseMillis)
        self.holdSamples = max(0, Int(holdMillis / 1_000 * Self.sampleRate))
    }

    /// Sizes the scratch buffer for blocks of up to `samples` interleaved values, so that even the
    /// first `mix` call does not allocate.
    public mutating func reserve(samples: Int) {
        if sum.count < samples { sum = [Float](repeating: 0, count: samples) }
    }

    /// The current limiter gain (1 = no reduction), e.g. for metering.
    public var limiterGain: Float { gain }

    /// Mixes `inputs` into `output` (interleaved, `channels` per frame). An input shorter than
    /// `output` counts as silence past its end; extra input samples are ignored.
    public mutating func mix(_ inputs: [(samples: UnsafeBufferPointer<Int16>, gain: Float)],
                             into output: UnsafeMutableBufferPointer<Int16>) {
        let n = output.count - output.count % channels
        guard n > 0 else { return }
        reserve(samples: n)
        let channels = self.channels, ceiling = self.ceiling
        let attack = attackCoeff, release = releaseCoeff
        var g = gain
        var hold = holdLeft
        let holdSamples = self.holdSamples
        sum.withUnsafeMutableBufferPointer { acc in
            let a = acc.baseAddress!
            a.update(repeating: 0, count: n)
            for input in inputs where input.gain != 0 {
                guard let src = input.samples.baseAddress, input.gain.isFinite else { continue }
                let m = min(n, input.samples.count), k = input.gain
                for i in 0..<m { a[i] += k * Float(src[i]) }
            }
            let out = output.baseAddress!
            var i = 0
            while i < n {
                var peak: Float = 0
                for c in 0..<channels { peak = max(peak, abs(a[i + c])) }
                // The gain that puts this frame's peak at the ceiling (1 when it is below).
                let needed: Float = peak > ceiling ? ceiling / peak : 1
                if needed < g {
                    g = needed + (g - needed) * attack
                    hold = holdSamples
                } else if hold > 0 {
                    hold -= 1
                } else {
                    g = needed + (g - needed) * release
                }
                let applied = min(g, needed)
                for c in 0..<channels {
                    let v = (a[i + c] * applied).rounded()
                    out[i + c] = Int16(max(-32_768, min(32_767, v)))
                }
                i += channels
            }
        }
        gain = g
        holdLeft = hold
        // A trailing partial frame in `output` is silence.
        for j in n..<output.count { output[j] = 0 }
    }

    /// Level of a block in dBFS (RMS relative to full scale 32768, so a full-scale sine is about
    /// -3 dBFS), for active-speaker detection. Silence or an empty block gives -120 (the floor).
    public static func level(_ samples: UnsafeBufferPointer<Int16>) -> Double {
        guard !samples.isEmpty else { return -120 }
        var sum = 0.0
        for s in samples {
            let x = Double(s)
            sum += x * x
        }
        let rms = (sum / Double(samples.count)).squareRoot() / 32_768
        return max(-120, 20 * log10(max(rms, 1e-7)))
    }

    // MARK: Testing hooks

    /// Capacity and address of the scratch buffer, to prove it is not reallocated per block.
    var scratchIdentity: (capacity: Int, address: UnsafeRawPointer?) {
        sum.withUnsafeBufferPointer { (sum.capacity, UnsafeRawPointer($0.baseAddress)) }
    }
}
