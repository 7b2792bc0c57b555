import Foundation
import Testing
@testable import AudioMix
import Media

/// Mixes whole signals block by block (960 frames, like the pipeline's 20 ms) and returns the output.
private func mixBlocks(_ mixer: inout AudioMixer, _ signals: [[Int16]], gains: [Float], block: Int = 960) -> [Int16] {
    let total = signals.map(\.count).max() ?? 0
    var out = [Int16](repeating: 0, count: total)
    let step = block * mixer.channels
    var offset = 0
    while offset < total {
        let n = min(step, total - offset)
        var blocks: [[Int16]] = signals.map { s in
            Array(s[min(offset, s.count)..<min(offset + n, s.count)])
        }
        withBuffers(&blocks, 0, []) { inputs in
            out.withUnsafeMutableBufferPointer { o in
                let slice = UnsafeMutableBufferPointer(rebasing: o[offset..<(offset + n)])
                mixer.mix(Array(zip(inputs, gains).map { (samples: $0, gain: $1) }), into: slice)
            }
        }
        offset += n
    }
    return out
}

/// Calls `body` with unsafe buffers for every array.
private func withBuffers(_ arrays: inout [[Int16]], _ index: Int, _ acc: [UnsafeBufferPointer<Int16>],
                         _ body: ([UnsafeBufferPointer<Int16>]) -> Void) {
    if index == arrays.count { body(acc); return }
    arrays[index].withUnsafeBufferPointer { p in
        var rest = arrays
        withBuffers(&rest, index + 1, acc + [p], body)
    }
}

private func square(period: Int, count: Int, phase: Int = 0, amplitude: Int16 = 32_767) -> [Int16] {
    (0..<count).map { ((($0 + phase) / (period / 2)) % 2 == 0) ? amplitude : -amplitude }
}

private func dB(_ powerRatio: Double) -> Double { 10 * log10(powerRatio) }

private let ceiling = 32_767 * pow(10, -1.0 / 20)  // -1 dBFS ≈ 29204

@Suite struct AudioMixerTests {
    @Test func twoTonesBothPresentAndLevelsPreservedWithoutLimiting() {
        let a = sineWave(frequency: 440, sampleRate: 48_000, count: 48_000, amplitude: 0.3)
        let b = sineWave(frequency: 1_000, sampleRate: 48_000, count: 48_000, amplitude: 0.3)
        var mixer = AudioMixer()
        let out = mixBlocks(&mixer, [a, b], gains: [1, 1])
        #expect(abs(dB(goertzelPower(out, frequency: 440, sampleRate: 48_000) / goertzelPower(a, frequency: 440, sampleRate: 48_000))) < 1)
        #expect(abs(dB(goertzelPower(out, frequency: 1_000, sampleRate: 48_000) / goertzelPower(b, frequency: 1_000, sampleRate: 48_000))) < 1)
        // Nothing to limit: the output is the exact sum.
        #expect(out == zip(a, b).map { $0 + $1 })
        #expect(mixer.limiterGain == 1)
        let sumLevel = 20 * log10(rmsLevel(zip(a, b).map { $0 + $1 }))
        let outLevel = out.withUnsafeBufferPointer { AudioMixer.level($0) }
        #expect(abs(outLevel - sumLevel) < 1)
    }

    @Test func sixFullScaleInputsNeverWrapNorHardClip() {
        let count = 48_000
        let inputs: [[Int16]] = [
            square(period: 100, count: count), square(period: 100, count: count),
            square(period: 218, count: count, phase: 30), square(period: 80, count: count, phase: 7),
            sineWave(frequency: 440, sampleRate: 48_000, count: count, amplitude: 1),
            sineWave(frequency: 300, sampleRate: 48_000, count: count, amplitude: 1),
        ]
        var mixer = AudioMixer()
        let out = mixBlocks(&mixer, inputs, gains: [1, 1, 1, 1, 1, 1])
        let sum = (0..<count).map { i in inputs.reduce(Float(0)) { $0 + Float($1[i]) } }
        var flips = 0, fullScale = 0, overCeiling = 0
        let attack = 48 * 5  // 5 ms
        for i in 0..<count {
            if abs(sum[i]) > 32_767, (sum[i] > 0) != (out[i] > 0) { flips += 1 }
            if out[i] == .max || out[i] <= -32_767 { fullScale += 1 }
            if i >= attack, Double(abs(Int(out[i]))) > ceiling + 1 { overCeiling += 1 }
        }
        #expect(sum.contains { abs($0) > 32_767 * 3 })  // the test really overdrives
        #expect(flips == 0)
        #expect(fullScale == 0)
        #expect(overCeiling == 0)
        #expect(mixer.limiterGain < 0.5)
        // Loud but not crushed.
        #expect(rmsLevel(out) > 0.3)
    }

    @Test func limiterKeepsATonesShapeInsteadOfClippingIt() {
        // Six in-phase loud sines: 4.8× full scale. A clipper would square the wave (a strong 3rd
        // harmonic); the limiter's steady gain leaves a clean sine at the ceiling.
        let count = 48_000
        let tone = sineWave(frequency: 440, sampleRate: 48_000, count: count, amplitude: 0.8)
        var mixer = AudioMixer()
        let out = mixBlocks(&mixer, Array(repeating: tone, count: 6), gains: [Float](repeating: 1, count: 6))
        let settled = Array(out[4_800...])
        let fundamental = goertzelPower(settled, frequency: 440, sampleRate: 48_000)
        let third = goertzelPower(settled, frequency: 1_320, sampleRate: 48_000)
        #expect(dB(third / fundamental) < -40)
        let peak = settled.map { abs(Int($0)) }.max()!
        #expect(Double(peak) <= ceiling + 1)
        #expect(Double(peak) > ceiling * 0.9)  // the limiter holds the level near the ceiling
    }

    @Test func clampingNaiveMixWouldFailTheWrapCheck() {
        // Sanity check of the check itself: Int16 wrap-around does flip signs on these inputs.
        let a: Int16 = 30_000, b: Int16 = 30_000
        let wrapped = a &+ b
        #expect(wrapped < 0)
    }

    @Test func zeroGainRemovesAnInput() {
        let a = sineWave(frequency: 440, sampleRate: 48_000, count: 9_600, amplitude: 0.3)
        let b = sineWave(frequency: 1_000, sampleRate: 48_000, count: 9_600, amplitude: 0.9)
        var mixer = AudioMixer()
        let out = mixBlocks(&mixer, [a, b], gains: [1, 0])
        #expect(out == a)
        #expect(goertzelPower(out, frequency: 1_000, sampleRate: 48_000) < 1e-6)
        var half = AudioMixer()
        let quieter = mixBlocks(&half, [a], gains: [0.5])
        let la = a.withUnsafeBufferPointer { AudioMixer.level($0) }
        let lq = quieter.withUnsafeBufferPointer { AudioMixer.level($0) }
        #expect(abs(lq - (la - 6.02)) < 0.1)
    }

    @Test func stereoMixKeepsChannelsApartAndLimitsLinked() {
        let frames = 24_000
        let l1 = sineWave(frequency: 440, sampleRate: 48_000, count: frames, amplitude: 0.3)
        let r2 = sineWave(frequency: 1_000, sampleRate: 48_000, count: frames, amplitude: 0.3)
        let left: [Int16] = (0..<frames).flatMap { [l1[$0], Int16(0)] }
        let right: [Int16] = (0..<frames).flatMap { [Int16(0), r2[$0]] }
        var mixer = AudioMixer(channels: 2)
        let out = mixBlocks(&mixer, [left, right], gains: [1, 1])
        #expect(out.count == frames * 2)
        let outL = stride(from: 0, to: out.count, by: 2).map { out[$0] }
        let outR = stride(from: 1, to: out.count, by: 2).map { out[$0] }
        #expect(outL == l1)
        #expect(outR == r2)

        // Loud stereo: both channels stay under the ceiling, neither wraps.
        var loud = AudioMixer(channels: 2)
        let full: [Int16] = (0..<frames).flatMap { [sineWave(frequency: 440, sampleRate: 48_000, count: 1, startSample: $0, amplitude: 1)[0], Int16(-32_000)] }
        let limited = mixBlocks(&loud, Array(repeating: full, count: 4), gains: [1, 1, 1, 1])
        let settled = limited[960...]
        #expect(settled.allSatisfy { Double(abs(Int($0))) <= ceiling + 1 })
        #expect(stride(from: 1, to: limited.count, by: 2).allSatisfy { limited[$0] < 0 })
    }

    @Test func levelOfKnownSignals() {
        let full = sineWave(frequency: 440, sampleRate: 48_000, count: 4_800, amplitude: 1)
        #expect(abs(full.withUnsafeBufferPointer { AudioMixer.level($0) } + 3.01) < 0.05)
        let silence = [Int16](repeating: 0, count: 960)
        #expect(silence.withUnsafeBufferPointer { AudioMixer.level($0) } == -120)
        #expect([Int16]().withUnsafeBufferPointer { AudioMixer.level($0) } == -120)
    }

    @Test func steadyStateMixReusesItsScratchBuffer() {
        let a = sineWave(frequency: 440, sampleRate: 48_000, count: 960, amplitude: 1)
        let b = sineWave(frequency: 700, sampleRate: 48_000, count: 960, amplitude: 1)
        var out = [Int16](repeating: 0, count: 960)
        var mixer = AudioMixer()
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                let inputs = [(samples: pa, gain: Float(1)), (samples: pb, gain: Float(0.8))]
                out.withUnsafeMutableBufferPointer { o in
                    mixer.mix(inputs, into: o)
                    let first = mixer.scratchIdentity
                    #expect(first.capacity >= 960)
                    for _ in 0..<1_000 { mixer.mix(inputs, into: o) }
                    let after = mixer.scratchIdentity
                    #expect(after.capacity == first.capacity)
                    #expect(after.address == first.address)
                }
            }
        }
        var reserved = AudioMixer(channels: 2)
        reserved.reserve(samples: 1_920)
        let before = reserved.scratchIdentity
        var stereoOut = [Int16](repeating: 0, count: 1_920)
        let stereoIn = [Int16](repeating: 1_000, count: 1_920)
        stereoIn.withUnsafeBufferPointer { p in
            stereoOut.withUnsafeMutableBufferPointer { o in
                for _ in 0..<100 { reserved.mix([(samples: p, gain: 1)], into: o) }
            }
        }
        #expect(reserved.scratchIdentity.address == before.address)
        #expect(stereoOut.allSatisfy { $0 == 1_000 })
    }
}
