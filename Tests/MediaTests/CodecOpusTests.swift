import Testing
@testable import Media

@Suite("Opus codec")
struct CodecOpusTests {
    static let rate = 48_000
    static let frame = 960  // 20 ms

    /// 1 s of a tone, encoded in 20 ms packets.
    static func encodeTone(_ freq: Double, encoder: OpusEncoder, frames: Int = 50, amplitude: Double = 0.5) throws -> [[UInt8]] {
        try (0..<frames).map { i in
            try encoder.encode(sineWave(frequency: freq, sampleRate: rate, count: frame, startSample: i * frame, amplitude: amplitude))
        }
    }

    @Test func sineSurvivesEncodeDecode() throws {
        let enc = try OpusEncoder(sampleRate: Self.rate, channels: 1, bitrate: 32_000)
        let dec = try OpusDecoder(sampleRate: Self.rate, channels: 1)
        let packets = try Self.encodeTone(440, encoder: enc)
        #expect(packets.count == 50)
        #expect(packets.allSatisfy { !$0.isEmpty && $0.count < 400 })
        var pcm: [Int16] = []
        for p in packets {
            let out = try dec.decode(p)
            #expect(out.count == Self.frame)
            pcm += out
        }
        #expect(pcm.count == Self.rate)
        let settled = Array(pcm[4_800...])  // skip pre-skip and encoder warm-up
        #expect(dominantFrequency(settled, sampleRate: Self.rate, candidates: [440, 880, 1000]) == 440)
        let p440 = goertzelPower(settled, frequency: 440, sampleRate: Self.rate)
        let p1000 = goertzelPower(settled, frequency: 1000, sampleRate: Self.rate)
        #expect(p440 > 100 * p1000)
        let input = sineWave(frequency: 440, sampleRate: Self.rate, count: Self.rate, amplitude: 0.5)
        let inLevel = rmsLevel(input), outLevel = rmsLevel(settled)
        #expect(abs(outLevel - inLevel) / inLevel < 0.15, "level in \(inLevel) out \(outLevel)")
        #expect(enc.lookahead > 0 && enc.lookahead < 1_000)
    }

    @Test func stereoInterleaved() throws {
        let enc = try OpusEncoder(channels: 2, bitrate: 64_000, application: .audio)
        let dec = try OpusDecoder(channels: 2)
        var left: [Int16] = [], right: [Int16] = []
        for i in 0..<50 {
            let l = sineWave(frequency: 440, sampleRate: Self.rate, count: Self.frame, startSample: i * Self.frame)
            let r = sineWave(frequency: 1000, sampleRate: Self.rate, count: Self.frame, startSample: i * Self.frame)
            var inter = [Int16](repeating: 0, count: 2 * Self.frame)
            for k in 0..<Self.frame { inter[2 * k] = l[k]; inter[2 * k + 1] = r[k] }
            let out = try dec.decode(try enc.encode(inter))
            #expect(out.count == 2 * Self.frame)
            for k in 0..<Self.frame { left.append(out[2 * k]); right.append(out[2 * k + 1]) }
        }
        #expect(dominantFrequency(Array(left[4_800...]), sampleRate: Self.rate, candidates: [440, 1000]) == 440)
        #expect(dominantFrequency(Array(right[4_800...]), sampleRate: Self.rate, candidates: [440, 1000]) == 1000)
    }

    @Test func packetLossConcealmentGivesRequestedSamples() throws {
        let enc = try OpusEncoder()
        let dec = try OpusDecoder()
        for p in try Self.encodeTone(440, encoder: enc, frames: 10) { _ = try dec.decode(p) }
        let plc = try dec.concealLoss(samples: Self.frame)
        #expect(plc.count == Self.frame)
        #expect(dominantFrequency(plc, sampleRate: Self.rate, candidates: [440, 880, 1000]) == 440)
        #expect(try dec.concealLoss(samples: 480).count == 480)
        // Not a multiple of 2.5 ms is refused by libopus, and the error carries its text.
        #expect(throws: CodecError.self) { try dec.concealLoss(samples: 7) }
    }

    @Test func inbandFECRecoversALostFrame() throws {
        // Frames before `lost` carry 440 Hz, frame `lost` 1000 Hz, later frames 1500 Hz (switch points
        // shifted by the encoder lookahead so each decoded frame holds one tone). Concealment
        // extrapolates 440, a plain decode of the next packet gives 1500, and only real FEC data
        // gives back the lost 1000 Hz frame.
        let enc = try OpusEncoder(bitrate: 32_000, application: .voip, inbandFEC: true, packetLossPercent: 20)
        let lost = 30
        let switchAt = lost * Self.frame - enc.lookahead
        var packets: [[UInt8]] = []
        for i in 0..<(lost + 5) {
            let pcm = (0..<Self.frame).map { k -> Int16 in
                let n = i * Self.frame + k
                let f = n < switchAt ? 440.0 : (n < switchAt + Self.frame ? 1000.0 : 1500.0)
                return sineWave(frequency: f, sampleRate: Self.rate, count: 1, startSample: n, amplitude: 0.5)[0]
            }
            packets.append(try enc.encode(pcm))
        }
        let withFEC = try OpusDecoder(), withPLC = try OpusDecoder(), reference = try OpusDecoder()
        var refFrame: [Int16] = []
        for (i, p) in packets.enumerated() {
            let r = try reference.decode(p)
            if i == lost { refFrame = r }
            if i < lost {
                _ = try withFEC.decode(p)
                _ = try withPLC.decode(p)
            }
        }
        #expect(dominantFrequency(refFrame, sampleRate: Self.rate, candidates: [440, 1000, 1500]) == 1000)

        let recovered = try withFEC.decodeFEC(packets[lost + 1], samples: Self.frame)
        let concealed = try withPLC.concealLoss(samples: Self.frame)
        #expect(recovered.count == Self.frame)
        #expect(concealed.count == Self.frame)
        #expect(dominantFrequency(recovered, sampleRate: Self.rate, candidates: [440, 1000, 1500]) == 1000)
        #expect(dominantFrequency(concealed, sampleRate: Self.rate, candidates: [440, 1000, 1500]) == 440)
        // And the stream carries on normally after the recovery.
        let next = try withFEC.decode(packets[lost + 1])
        #expect(next.count == Self.frame)
        #expect(dominantFrequency(next, sampleRate: Self.rate, candidates: [440, 1000, 1500]) == 1500)
    }

    @Test func fecWithoutFECDataFallsBackToConcealment() throws {
        let enc = try OpusEncoder(inbandFEC: false)
        let dec = try OpusDecoder()
        let packets = try Self.encodeTone(440, encoder: enc, frames: 12)
        for p in packets.prefix(10) { _ = try dec.decode(p) }
        #expect(try dec.decodeFEC(packets[11], samples: Self.frame).count == Self.frame)
    }

    @Test func invalidArgumentsThrowWithReason() throws {
        #expect(throws: CodecError.self) { try OpusEncoder(sampleRate: 44_100) }
        #expect(throws: CodecError.self) { try OpusDecoder(channels: 3) }
        let enc = try OpusEncoder()
        do {
            _ = try enc.encode([Int16](repeating: 0, count: 1000))
            Issue.record("odd frame size accepted")
        } catch {
            #expect(error.codec == "opus")
            #expect(error.description.contains("frame size"))
        }
        let dec = try OpusDecoder()
        do {
            _ = try dec.decode([0xFF, 0xFF, 0xFF])  // code-3 packet with an impossible frame count
            Issue.record("garbage decoded")
        } catch {
            #expect(error.reason.contains("corrupted") || error.reason.contains("invalid"), "\(error)")
        }
    }

    @Test func goertzelPicksTheTone() {
        let tone = sineWave(frequency: 1000, sampleRate: 48_000, count: 4_800, amplitude: 1)
        #expect(dominantFrequency(tone, sampleRate: 48_000, candidates: [440, 880, 1000]) == 1000)
        #expect(abs(goertzelPower(tone, frequency: 1000, sampleRate: 48_000) - 0.25) < 0.01)
        #expect(goertzelPower([Int16](repeating: 0, count: 100), frequency: 1000, sampleRate: 48_000) == 0)
        #expect(abs(rmsLevel(tone) - 0.707) < 0.01)
        // Continuation: two halves equal one whole.
        let a = sineWave(frequency: 440, sampleRate: 48_000, count: 100, startSample: 0)
        let b = sineWave(frequency: 440, sampleRate: 48_000, count: 100, startSample: 100)
        #expect(a + b == sineWave(frequency: 440, sampleRate: 48_000, count: 200))
    }
}
