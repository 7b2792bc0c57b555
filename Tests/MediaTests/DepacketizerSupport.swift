import SeededRandom
import RTP
@testable import Media

func randomBytes(_ n: Int, _ rng: inout SplitMix64) -> [UInt8] {
    (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
}

struct BitWriter {
    var bytes: [UInt8] = []
    var bit = 0
    mutating func write(_ value: Int, _ n: Int) {
        for k in stride(from: n - 1, through: 0, by: -1) {
            if bit % 8 == 0 { bytes.append(0) }
            if (value >> k) & 1 == 1 { bytes[bytes.count - 1] |= UInt8(0x80 >> (bit % 8)) }
            bit += 1
        }
    }

    /// Unsigned exp-Golomb, ue(v) (H.264 §9.1).
    mutating func ue(_ v: Int) {
        let x = v + 1
        let bits = Int.bitWidth - x.leadingZeroBitCount
        write(0, bits - 1)
        write(x, bits)
    }
}

/// A VP8 keyframe: frame tag with P=0, start code, 14-bit sizes plus scale bits, then filler.
func vp8Keyframe(width: Int, height: Int, size: Int, _ rng: inout SplitMix64, hscale: Int = 0) -> [UInt8] {
    var f: [UInt8] = [0x10, UInt8.random(in: 0...255, using: &rng), UInt8.random(in: 0...255, using: &rng), 0x9D, 0x01, 0x2A]
    let w = width | hscale << 14
    f += [UInt8(w & 0xFF), UInt8(w >> 8), UInt8(height & 0xFF), UInt8(height >> 8)]
    return f + randomBytes(max(0, size - f.count), &rng)
}

/// A VP8 interframe: frame tag with P=1.
func vp8Interframe(size: Int, _ rng: inout SplitMix64) -> [UInt8] {
    [0x11] + randomBytes(max(0, size - 1), &rng)
}

/// A VP9 profile-0 keyframe uncompressed header start (marker, sync code, colour config, frame size), then filler.
func vp9Keyframe(width: Int, height: Int, size: Int, _ rng: inout SplitMix64) -> [UInt8] {
    var w = BitWriter()
    w.write(2, 2)        // frame_marker
    w.write(0, 2)        // profile 0
    w.write(0, 1)        // show_existing_frame
    w.write(0, 1)        // frame_type KEY_FRAME
    w.write(1, 1)        // show_frame
    w.write(0, 1)        // error_resilient_mode
    w.write(0x49, 8); w.write(0x83, 8); w.write(0x42, 8)
    w.write(2, 3)        // color_space BT.709
    w.write(0, 1)        // color_range
    w.write(width - 1, 16)
    w.write(height - 1, 16)
    return w.bytes + randomBytes(max(0, size - w.bytes.count), &rng)
}

/// A VP9 interframe header start: marker, profile 0, frame_type 1, show_frame 1.
func vp9Interframe(size: Int, _ rng: inout SplitMix64) -> [UInt8] {
    [0x86] + randomBytes(max(0, size - 1), &rng)
}

struct SentPacket {
    var packet: RTPPacket
    var frameIndex: Int
}

/// Wraps payloads of consecutive frames into RTP packets (marker on the last of each frame).
func rtpPackets(_ framePayloads: [[[UInt8]]], firstSeq: UInt16 = 65_500, firstTs: UInt32 = 0xFFFF_0000,
                tsStep: UInt32 = 3000) -> [SentPacket] {
    var out: [SentPacket] = []
    var seq = firstSeq
    for (i, payloads) in framePayloads.enumerated() {
        for (k, p) in payloads.enumerated() {
            out.append(SentPacket(packet: RTPPacket(payloadType: 96, sequenceNumber: seq, timestamp: firstTs &+ UInt32(i) &* tsStep,
                                                    ssrc: 7, marker: k == payloads.count - 1, payload: p), frameIndex: i))
            seq &+= 1
        }
    }
    return out
}

/// Simulated network: local shuffle (≤ 4 positions), some duplicates, chosen packets dropped; then
/// ReorderBuffer → depacketizer.
func transport<D: Depacketizer>(_ packets: [SentPacket], into dep: inout D, drop: Set<Int> = [], seed: UInt64 = 1,
                                reorder: inout ReorderBuffer) -> [EncodedFrame] {
    var rng = SplitMix64(seed: seed)
    var arrivals: [(Int, Int)] = []
    for i in packets.indices where !drop.contains(i) {
        arrivals.append((i == 0 ? -1 : i + Int.random(in: 0...4, using: &rng), i))
        if Int.random(in: 0..<10, using: &rng) == 0 { arrivals.append((i + Int.random(in: 0...8, using: &rng), i)) }
    }
    arrivals.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
    var frames: [EncodedFrame] = []
    for (k, a) in arrivals.enumerated() {
        for o in reorder.insert(packets[a.1].packet, arrivalMicros: Int64(k) * 1000) {
            frames += dep.consume(o)
        }
    }
    for o in reorder.flush() { frames += dep.consume(o) }
    frames += dep.flush()
    return frames
}

func transport<D: Depacketizer>(_ packets: [SentPacket], into dep: inout D, drop: Set<Int> = [], seed: UInt64 = 1) -> [EncodedFrame] {
    var rb = ReorderBuffer(maxPackets: 128, maxDelayMicros: 50_000)
    return transport(packets, into: &dep, drop: drop, seed: seed, reorder: &rb)
}

func ordered(_ p: RTPPacket, seq: Int64, ts: Int64, arrival: Int64 = 0) -> OrderedPacket {
    OrderedPacket(packet: p, sequence: seq, timestamp: ts, arrivalMicros: arrival)
}
