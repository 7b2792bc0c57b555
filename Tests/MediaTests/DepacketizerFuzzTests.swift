import SeededRandom
import Testing
import RTP
@testable import Media

@Suite struct DepacketizerFuzzTests {
    /// Feeds `count` random or mutated packets, with occasional losses and sequence jumps, to a depacketizer.
    /// Checks invariants on everything it emits.
    func hammer(_ codec: Codec, seed: UInt64, count: Int = 20_000) -> DepacketizerStats {
        var rng = SplitMix64(seed: seed)
        var dep = makeDepacketizer(for: codec)
        // Valid material to mutate.
        var vp8 = VP8Packetizer(maxPayloadSize: 60)
        var vp9 = VP9Packetizer(maxPayloadSize: 60, flexibleMode: seed % 2 == 0)
        var valid: [[UInt8]] = []
        for i in 0..<20 {
            let key = i % 5 == 0
            switch codec {
            case .vp8: valid += vp8.payloads(for: key ? vp8Keyframe(width: 32, height: 32, size: 150, &rng) : vp8Interframe(size: 90, &rng), isKeyframe: key)
            case .vp9: valid += vp9.payloads(for: key ? vp9Keyframe(width: 32, height: 32, size: 150, &rng) : vp9Interframe(size: 90, &rng),
                                             isKeyframe: key, width: 32, height: 32)
            case .h264:
                // SPS/PPS (STAP-A) and an IDR on keyframes, a non-IDR slice otherwise; the big slice is fragmented (FU-A).
                let slice: [UInt8] = [key ? 0x65 : 0x41, 0x88] + randomBytes(key ? 150 : 40, &rng)
                let au: [[UInt8]] = key ? [[0x67, 0x42, 0xC0, 0x1E] + randomBytes(6, &rng), [0x68, 0xCE, 0x3C, 0x80], slice] : [slice]
                valid += H264Packetizer(maxPayloadSize: 60).payloads(forAnnexB: AnnexB.join(au))
            default: valid.append([0xFB, 0x03] + randomBytes(20, &rng))
            }
        }
        var seq: Int64 = 0
        var ts: Int64 = 0
        var emitted = 0
        for k in 0..<count {
            var payload: [UInt8]
            if k % 3 == 0 {
                payload = randomBytes(Int.random(in: 0...40, using: &rng), &rng)
            } else {
                payload = valid[k % valid.count]
                if Int.random(in: 0..<3, using: &rng) == 0, !payload.isEmpty {
                    for _ in 0..<Int.random(in: 1...3, using: &rng) {
                        payload[Int.random(in: 0..<payload.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                    }
                }
                if Int.random(in: 0..<8, using: &rng) == 0 { payload.removeLast(Int.random(in: 0...payload.count, using: &rng)) }
            }
            if Int.random(in: 0..<4, using: &rng) == 0 { ts += Int64.random(in: 1...6000, using: &rng) }
            var frames: [EncodedFrame] = []
            switch Int.random(in: 0..<40, using: &rng) {
            case 0: frames += dep.lost(firstSequence: seq, count: Int.random(in: 1...5, using: &rng)); seq += 3
            case 1: seq += Int64.random(in: -3...3, using: &rng)        // misbehaving caller: repeats and jumps
            case 2: frames += dep.flush()
            default: break
            }
            let p = RTPPacket(payloadType: 96, sequenceNumber: UInt16(truncatingIfNeeded: seq), timestamp: UInt32(truncatingIfNeeded: ts),
                              ssrc: 1, marker: Int.random(in: 0..<3, using: &rng) == 0, payload: payload)
            frames += dep.push(OrderedPacket(packet: p, sequence: seq, timestamp: ts, arrivalMicros: Int64(k)))
            seq += 1
            for f in frames {
                emitted += 1
                #expect(f.codec == codec)
                #expect(!f.data.isEmpty)
                if codec == .vp9, let parts = VP9Superframe.split(f.data[...]) { #expect(parts.count >= 2) }
            }
        }
        _ = dep.flush()
        #expect(emitted == dep.stats.frames)
        return dep.stats
    }

    @Test(arguments: Codec.allCases)
    func randomAndMutatedPayloadsNeverCrash(codec: Codec) {
        let s = hammer(codec, seed: UInt64(codec.rawValue.count) * 7919 + 1)
        switch codec {
        case .opus: #expect(s.frames > 5_000 && s.packetsInvalid > 0)
        default:
            #expect(s.packetsInvalid > 0)
            #expect(s.framesDroppedIncomplete + s.framesDroppedWaitingForKeyframe > 0)
        }
    }

    @Test func vp9BothModesSurvive() {
        for seed: UInt64 in [2, 3, 4, 5] { _ = hammer(.vp9, seed: seed, count: 5_000) }
    }

    @Test func reorderBufferSurvivesRandomSequences() {
        var rng = SplitMix64(seed: 77)
        var rb = ReorderBuffer(maxPackets: 32, maxDelayMicros: 5_000)
        var now: Int64 = 0
        var last: Int64 = .min
        var releasedOrGiven: Int64 = 0
        for _ in 0..<20_000 {
            now += Int64.random(in: 0...500, using: &rng)
            let seq: UInt16 = Int.random(in: 0..<50, using: &rng) == 0 ? UInt16.random(in: 0...65535, using: &rng)
                : UInt16(truncatingIfNeeded: Int(now / 300) + Int.random(in: -20...20, using: &rng))
            let p = RTPPacket(payloadType: 96, sequenceNumber: seq, timestamp: UInt32.random(in: 0...UInt32.max, using: &rng), ssrc: 1, payload: [])
            var out = rb.insert(p, arrivalMicros: now)
            if Int.random(in: 0..<10, using: &rng) == 0 { out += rb.advance(toMicros: now) }
            for o in out {
                switch o {
                case .packet(let op):
                    #expect(op.sequence > last); last = op.sequence; releasedOrGiven += 1
                case .gap(let first, let count):
                    #expect(first > last && count > 0); last = first + Int64(count) - 1
                }
            }
            #expect(rb.bufferedCount <= 32)
        }
        let s = rb.stats
        #expect(s.received == 20_000)
        #expect(s.received == s.released + s.duplicates + s.late + rb.bufferedCount)
        #expect(Int64(s.released) == releasedOrGiven)
    }
}
