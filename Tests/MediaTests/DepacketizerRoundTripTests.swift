import SeededRandom
import Testing
import RTP
@testable import Media

@Suite struct DepacketizerRoundTripTests {
    struct Source {
        var frames: [[UInt8]]
        var keyframes: Set<Int>
    }

    func vp8Source(count: Int = 30, keyframes: Set<Int> = [0, 15], seed: UInt64 = 7) -> Source {
        var rng = SplitMix64(seed: seed)
        var frames: [[UInt8]] = []
        for i in 0..<count {
            let size = i == 5 ? 1000 : Int.random(in: 40...2500, using: &rng)
            frames.append(keyframes.contains(i) ? vp8Keyframe(width: 640, height: 480, size: size + 2000, &rng)
                                                : vp8Interframe(size: size, &rng))
        }
        return Source(frames: frames, keyframes: keyframes)
    }

    func vp9Source(count: Int = 30, keyframes: Set<Int> = [0, 15], seed: UInt64 = 9) -> Source {
        var rng = SplitMix64(seed: seed)
        var frames: [[UInt8]] = []
        for i in 0..<count {
            let size = i == 5 ? 1000 : Int.random(in: 40...2500, using: &rng)
            frames.append(keyframes.contains(i) ? vp9Keyframe(width: 1280, height: 720, size: size + 2000, &rng)
                                                : vp9Interframe(size: size, &rng))
        }
        return Source(frames: frames, keyframes: keyframes)
    }

    func vp8Packets(_ s: Source) -> [SentPacket] {
        var pk = VP8Packetizer(maxPayloadSize: 300, initialPictureID: 0x7FF0)
        return rtpPackets(s.frames.enumerated().map { i, f in pk.payloads(for: f, isKeyframe: s.keyframes.contains(i)) })
    }

    func vp9Packets(_ s: Source, flexible: Bool) -> [SentPacket] {
        var pk = VP9Packetizer(maxPayloadSize: 300, initialPictureID: 0x7FFE, flexibleMode: flexible)
        return rtpPackets(s.frames.enumerated().map { i, f in
            pk.payloads(for: f, isKeyframe: s.keyframes.contains(i), width: 1280, height: 720)
        })
    }

    @Test func vp8LosslessIsByteIdentical() {
        let s = vp8Source()
        let packets = vp8Packets(s)
        #expect(packets.count > 60)
        var dep = VP8Depacketizer()
        let frames = transport(packets, into: &dep)
        #expect(frames.map(\.data) == s.frames)
        #expect(frames.map(\.isKeyframe) == (0..<30).map { s.keyframes.contains($0) })
        #expect(frames.map(\.rtpTimestamp) == (0..<30).map { 0xFFFF_0000 + Int64($0) * 3000 })
        #expect(frames[0].width == 640 && frames[0].height == 480)
        #expect(frames[15].width == 640 && frames[1].width == nil)
        #expect(dep.stats.frames == 30 && dep.stats.keyframes == 2)
        #expect(dep.stats.framesDroppedIncomplete == 0 && dep.stats.framesDroppedWaitingForKeyframe == 0)
        #expect(!dep.needsKeyframe)
    }

    @Test(arguments: [false, true])
    func vp9LosslessIsByteIdentical(flexible: Bool) {
        let s = vp9Source()
        let packets = vp9Packets(s, flexible: flexible)
        var dep = VP9Depacketizer()
        let frames = transport(packets, into: &dep, seed: 3)
        #expect(frames.map(\.data) == s.frames)
        #expect(frames.map(\.isKeyframe) == (0..<30).map { s.keyframes.contains($0) })
        #expect(frames[0].width == 1280 && frames[0].height == 720)
        #expect(frames[15].width == 1280 && frames[2].width == nil)
        #expect(dep.stats.frames == 30 && dep.stats.keyframes == 2)
        #expect(dep.scalability?.resolutions == [VP9Resolution(width: 1280, height: 720)])
    }

    /// Which packet of frame 5 to lose: first, middle, last (the marker).
    static let dropPositions = [0, 1, 2]

    @Test(arguments: dropPositions)
    func vp8LossDropsFrameAndWaitsForKeyframe(position: Int) {
        let s = vp8Source()
        let packets = vp8Packets(s)
        let frame5 = packets.indices.filter { packets[$0].frameIndex == 5 }
        #expect(frame5.count >= 3)
        let victim = position == 2 ? frame5.last! : frame5[position]
        var dep = VP8Depacketizer()
        let frames = transport(packets, into: &dep, drop: [victim])
        let expected = Array(s.frames[0..<5]) + Array(s.frames[15...])
        #expect(frames.map(\.data) == expected)
        #expect(dep.stats.framesDroppedIncomplete == 1)
        #expect(dep.stats.framesDroppedWaitingForKeyframe == 9)
        #expect(dep.stats.frames == 20)
        #expect(!dep.needsKeyframe)
    }

    @Test(arguments: dropPositions)
    func vp9LossDropsFrameAndWaitsForKeyframe(position: Int) {
        let s = vp9Source()
        let packets = vp9Packets(s, flexible: position == 1)
        let frame5 = packets.indices.filter { packets[$0].frameIndex == 5 }
        let victim = position == 2 ? frame5.last! : frame5[position]
        var dep = VP9Depacketizer()
        let frames = transport(packets, into: &dep, drop: [victim])
        #expect(frames.map(\.data) == Array(s.frames[0..<5]) + Array(s.frames[15...]))
        #expect(dep.stats.framesDroppedIncomplete == 1)
        #expect(dep.stats.framesDroppedWaitingForKeyframe == 9)
    }

    @Test func needsKeyframeTracksLossAndRecovery() {
        let s = vp8Source(count: 6, keyframes: [0, 4])
        let packets = vp8Packets(s)
        var dep = VP8Depacketizer()
        #expect(dep.needsKeyframe)             // nothing decodable yet
        var seq: Int64 = 0
        var emitted: [EncodedFrame] = []
        for sp in packets where sp.frameIndex == 0 {
            emitted += dep.push(ordered(sp.packet, seq: seq, ts: Int64(sp.packet.timestamp))); seq += 1
        }
        #expect(emitted.count == 1 && !dep.needsKeyframe)
        _ = dep.lost(firstSequence: seq, count: 2); seq += 2
        #expect(dep.needsKeyframe)
        for sp in packets where sp.frameIndex == 3 {
            emitted += dep.push(ordered(sp.packet, seq: seq, ts: Int64(sp.packet.timestamp))); seq += 1
        }
        #expect(emitted.count == 1 && dep.needsKeyframe)
        #expect(dep.stats.framesDroppedWaitingForKeyframe == 1)
        for sp in packets where sp.frameIndex == 4 {
            emitted += dep.push(ordered(sp.packet, seq: seq, ts: Int64(sp.packet.timestamp))); seq += 1
        }
        #expect(emitted.count == 2 && emitted[1].isKeyframe && !dep.needsKeyframe)
    }

    @Test func streamStartingWithInterframeWaitsForKeyframe() {
        let s = vp8Source(count: 10, keyframes: [3])
        var dep = VP8Depacketizer()
        let frames = transport(vp8Packets(s), into: &dep)
        #expect(frames.map(\.data) == Array(s.frames[3...]))
        #expect(dep.stats.framesDroppedWaitingForKeyframe == 3)
    }

    @Test func opusRoundTrip() {
        var rng = SplitMix64(seed: 11)
        let pk = OpusPacketizer()
        // TOC config 31 (CELT FB 20 ms), code 0, then payload
        let frames = (0..<50).map { _ in [UInt8(31 << 3)] + randomBytes(Int.random(in: 1...120, using: &rng), &rng) }
        let payloads = frames.map { pk.payloads(for: $0) }
        #expect(payloads.allSatisfy { $0.count == 1 })
        let packets = rtpPackets(payloads, tsStep: 960)
        var dep = OpusDepacketizer()
        let out = transport(packets, into: &dep, drop: [10])
        var expected = frames
        expected.remove(at: 10)
        #expect(out.map(\.data) == expected)
        #expect(out.allSatisfy { $0.codec == .opus && $0.isKeyframe })
        #expect(out[10].rtpTimestamp - out[9].rtpTimestamp == 2 * 960)
        #expect(!dep.needsKeyframe)
    }

    @Test func opusRejectsEmptyAndBrokenTOC() {
        var dep = OpusDepacketizer()
        func push(_ payload: [UInt8]) -> Int {
            dep.push(ordered(RTPPacket(payloadType: 111, sequenceNumber: 1, timestamp: 1, ssrc: 1, payload: payload), seq: 1, ts: 1)).count
        }
        #expect(push([]) == 0)
        #expect(push([0x01, 0xAA]) == 0)             // code 1 needs two equal halves: odd length
        #expect(push([0x03, 0x00]) == 0)             // code 3 with zero frames
        #expect(push([0x03]) == 0)                   // code 3 without count byte
        #expect(push([0x02, 0x05, 1, 2]) == 0)       // code 2 first length past the end
        #expect(push([0xFB, 0x03]) == 1)             // code 3, 3 x 20 ms
        #expect(push([0xFB, 0x07]) == 0)             // 7 x 20 ms > 120 ms
        #expect(push([0xF8]) == 1)                   // code 0, DTX-like 1 byte
        #expect(push([0x01, 1, 2]) == 1)
        #expect(dep.stats.packetsInvalid == 6)
        #expect(dep.stats.frames == 3)
    }

    @Test func factory() {
        #expect(makeDepacketizer(for: .opus) is OpusDepacketizer)
        #expect(makeDepacketizer(for: .vp8) is VP8Depacketizer)
        #expect(makeDepacketizer(for: .vp9) is VP9Depacketizer)
        #expect(makeDepacketizer(for: .h264) is H264Depacketizer)
    }
}
