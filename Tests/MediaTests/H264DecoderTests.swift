import SeededRandom
import Testing
import RTP
@testable import Media

@Suite(.enabled(if: x264Available, "needs libavcodec's libx264 encoder"))
struct H264DecoderTests {
    /// libx264 → H264Packetizer → network (shuffle, duplicates) → ReorderBuffer → H264Depacketizer.
    func depacketized(_ aus: [TestAU], maxPayloadSize: Int = 500) -> [EncodedFrame] {
        let p = H264Packetizer(maxPayloadSize: maxPayloadSize)
        var dep = H264Depacketizer()
        return transport(rtpPackets(aus.map { p.payloads(forAnnexB: $0.data) }), into: &dep, seed: 9)
    }

    func expectQuadrantColors(_ f: I420Frame, tolerance: Double = 3, sourceLocation: SourceLocation = #_sourceLocation) {
        for (k, rect) in quadrantRects(width: f.width, height: f.height, margin: 8).enumerated() {
            let got = f.averageColor(in: rect), want = quadrantColors[k]
            #expect(abs(got.y - Double(want.y)) <= tolerance, "quadrant \(k) Y \(got.y) vs \(want.y)", sourceLocation: sourceLocation)
            #expect(abs(got.u - Double(want.u)) <= tolerance, "quadrant \(k) U \(got.u) vs \(want.u)", sourceLocation: sourceLocation)
            #expect(abs(got.v - Double(want.v)) <= tolerance, "quadrant \(k) V \(got.v) vs \(want.v)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [(320, 240, "baseline", 1), (320, 180, "baseline", 4), (200, 130, "high", 1), (176, 100, "high444", 1)])
    func decodesDepacketizedStreamToTheEncodedColours(width: Int, height: Int, profile: String, slices: Int) throws {
        let aus = makeH264Stream(width: width, height: height, count: 12, idrAt: [0, 6], profile: profile, slices: slices)
        let frames = depacketized(aus)
        #expect(frames.count == 12)
        let decoder = try H264Decoder(threads: 2)
        var pictures = 0
        for f in frames {
            let out = try decoder.decode(f.data)
            #expect(out.count == 1)
            for picture in out {
                pictures += 1
                #expect(picture.width == width && picture.height == height)
                #expect(picture.y.count == width * height && picture.u.count == picture.chromaWidth * picture.chromaHeight)
                expectQuadrantColors(picture)
            }
        }
        #expect(pictures == 12)
        #expect(try decoder.flush().isEmpty)
        #expect(decoder.corruptPictures == 0)
    }

    @Test func frameThreadingDeliversEverythingByFlush() throws {
        let aus = makeH264Stream(count: 10, idrAt: [0])
        let decoder = try H264Decoder(threads: 2, frameThreading: true)
        var pictures: [I420Frame] = []
        for au in aus { pictures += try decoder.decode(au.data) }
        pictures += try decoder.flush()
        #expect(pictures.count == 10)
        for p in pictures { expectQuadrantColors(p) }
    }

    @Test func factoryAndErrors() throws {
        #expect(try makeVideoDecoder(codec: .h264) is H264Decoder)
        #expect(try makeVideoDecoder(codec: .vp8) is VPXDecoder)
        #expect(try makeVideoDecoder(codec: .vp9, threads: 1) is VPXDecoder)
        #expect(throws: CodecError.self) { try makeVideoDecoder(codec: .opus) }
        let d = try H264Decoder()
        #expect(throws: CodecError.self) { try d.decode([]) }
    }

    /// A P frame with no IDR before it (what a depacketizer never emits, but a buggy caller might send) is an
    /// error, not a picture of garbage and not a crash.
    @Test func interframeWithoutKeyframeIsAnError() throws {
        let aus = makeH264Stream(count: 3, idrAt: [0])
        let d = try H264Decoder()
        var produced = 0
        var failed = 0
        do { produced += try d.decode(aus[1].data).count } catch { failed += 1 }
        #expect(produced == 0)
        // Then the IDR decodes normally.
        let out = try d.decode(aus[0].data)
        #expect(out.count == 1)
        _ = failed
    }

    @Test func mutatedAccessUnitsNeverCrash() throws {
        let aus = makeH264Stream(count: 20, idrAt: [0, 10])
        var rng = SplitMix64(seed: 264)
        let d = try H264Decoder(threads: 2)
        var errors = 0, pictures = 0
        for k in 0..<200 {
            var data = aus[k % aus.count].normalized
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: // bit flips
                for _ in 0..<Int.random(in: 1...20, using: &rng) {
                    data[Int.random(in: 0..<data.count, using: &rng)] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
                }
            case 1: // truncation
                data.removeLast(Int.random(in: 1..<data.count, using: &rng))
            case 2: // a run of random bytes
                let start = Int.random(in: 0..<data.count, using: &rng)
                let n = min(data.count - start, Int.random(in: 1...64, using: &rng))
                for i in start..<(start + n) { data[i] = UInt8.random(in: 0...255, using: &rng) }
            case 3: // random bytes after a start code
                data = AnnexB.startCode + randomBytes(Int.random(in: 1...300, using: &rng), &rng)
            default: // a mangled parameter set or slice header
                let units = AnnexB.nalUnits(in: data).map(Array.init)
                var u = units.map { $0 }
                let i = Int.random(in: 0..<u.count, using: &rng)
                for j in 1..<min(u[i].count, 8) { u[i][j] = UInt8.random(in: 0...255, using: &rng) }
                data = AnnexB.join(u)
            }
            do { pictures += try d.decode(data).count } catch { errors += 1 }
        }
        _ = try? d.flush()
        #expect(errors + pictures > 0)
        // Still usable afterwards: a clean IDR decodes to the right picture.
        let clean = try H264Decoder()
        let out = try clean.decode(aus[0].normalized)
        #expect(out.count == 1)
        if let p = out.first { expectQuadrantColors(p) }
        var recovered: [I420Frame] = []
        for au in aus[10...] { recovered += (try? d.decode(au.normalized)) ?? [] }
        #expect(!recovered.isEmpty)
    }
}

@Suite(.enabled(if: x264Available, "needs libavcodec's libx264 encoder"))
struct H264FuzzTests {
    /// 20k random and mutated payloads, with losses, timestamp jumps and bogus sequence numbers.
    @Test func randomAndMutatedPayloadsNeverCrash() {
        var rng = SplitMix64(seed: 6184)
        let aus = makeH264Stream(count: 10, idrAt: [0, 5], slices: 2)
        let valid = aus.flatMap { H264Packetizer(maxPayloadSize: 120).payloads(forAnnexB: $0.data) }
        var dep = H264Depacketizer()
        var seq: Int64 = 0, ts: Int64 = 0, emitted = 0
        for k in 0..<20_000 {
            var payload: [UInt8]
            switch k % 4 {
            case 0:
                payload = randomBytes(Int.random(in: 0...60, using: &rng), &rng)
            case 1: // random body behind an RTP-level header of every type
                payload = [UInt8.random(in: 0...31, using: &rng) | (UInt8.random(in: 0...3, using: &rng) << 5)]
                    + randomBytes(Int.random(in: 0...60, using: &rng), &rng)
            default:
                payload = valid[(k / 2) % valid.count]
                for _ in 0..<Int.random(in: 0...3, using: &rng) where !payload.isEmpty {
                    payload[Int.random(in: 0..<payload.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                if Int.random(in: 0..<8, using: &rng) == 0 { payload.removeLast(Int.random(in: 0...payload.count, using: &rng)) }
            }
            if Int.random(in: 0..<4, using: &rng) == 0 { ts += Int64.random(in: 1...6000, using: &rng) }
            var frames: [EncodedFrame] = []
            switch Int.random(in: 0..<40, using: &rng) {
            case 0: frames += dep.lost(firstSequence: seq, count: Int.random(in: 1...5, using: &rng)); seq += 3
            case 1: seq += Int64.random(in: -3...3, using: &rng)
            case 2: frames += dep.flush()
            default: break
            }
            let p = RTPPacket(payloadType: 102, sequenceNumber: UInt16(truncatingIfNeeded: seq), timestamp: UInt32(truncatingIfNeeded: ts),
                              ssrc: 1, marker: Int.random(in: 0..<3, using: &rng) == 0, payload: payload)
            frames += dep.push(OrderedPacket(packet: p, sequence: seq, timestamp: ts, arrivalMicros: Int64(k)))
            seq += 1
            for f in frames {
                emitted += 1
                #expect(f.codec == .h264)
                #expect(Array(f.data.prefix(4)) == AnnexB.startCode)
                #expect(AnnexB.nalUnits(in: f.data).contains { H264NALType.isVCL($0.first! & 0x1F) })
                if f.isKeyframe {
                    let types = AnnexB.nalUnits(in: f.data).map { $0.first! & 0x1F }
                    #expect(types.contains(7) && types.contains(8) && types.contains(5))
                }
            }
        }
        _ = dep.flush()
        #expect(emitted == dep.stats.frames)
        #expect(dep.stats.packetsInvalid > 0 && dep.packetsUnsupported > 0)
        #expect(dep.stats.framesDroppedIncomplete + dep.stats.framesDroppedWaitingForKeyframe > 0)
    }
}
