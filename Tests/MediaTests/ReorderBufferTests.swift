import SeededRandom
import Testing
import RTP
@testable import Media

@Suite struct ReorderBufferTests {
    func pkt(_ seq: UInt16, ts: UInt32 = 0) -> RTPPacket {
        RTPPacket(payloadType: 96, sequenceNumber: seq, timestamp: ts, ssrc: 1, payload: [UInt8(truncatingIfNeeded: seq)])
    }

    func sequences(_ out: [ReorderOutput]) -> [Int64] {
        out.compactMap { if case .packet(let p) = $0 { return p.sequence } else { return nil } }
    }

    func gaps(_ out: [ReorderOutput]) -> [[Int64]] {
        out.compactMap { if case .gap(let f, let c) = $0 { return [f, Int64(c)] } else { return nil } }
    }

    @Test func shuffledInputWithDuplicatesComesOutInOrder() {
        var rng = SplitMix64(seed: 42)
        let start: UInt16 = 65_400   // wraps during the run
        let n = 400
        // Local shuffle: every packet moves at most 6 positions.
        // The first packet stays first (earlier ones would count as late: the stream starts where it starts).
        var keyed: [(key: Int, index: Int)] = []
        for i in 0..<n {
            let key: Int = i == 0 ? -1 : i + Int.random(in: 0...6, using: &rng)
            keyed.append((key: key, index: i))
        }
        keyed.sort { a, b in a.key != b.key ? a.key < b.key : a.index < b.index }
        let order: [Int] = keyed.map { $0.index }
        // Duplicates: some right after the original, some long after release.
        var arrivals: [Int] = []
        for (k, i) in order.enumerated() {
            arrivals.append(i)
            if k % 37 == 0 { arrivals.append(i) }
            if k % 53 == 0 && k > 20 { arrivals.append(order[k - 20]) }
        }
        var expectedReordered = 0, expectedDuplicates = 0
        var seen = Set<Int>()
        var highest = -1
        for i in arrivals {
            if seen.contains(i) { expectedDuplicates += 1; continue }
            seen.insert(i)
            if i < highest { expectedReordered += 1 }
            highest = max(highest, i)
        }
        #expect(expectedDuplicates > 10)
        #expect(expectedReordered > 50)

        var rb = ReorderBuffer(maxPackets: 64, maxDelayMicros: 1_000_000)
        var out: [ReorderOutput] = []
        for (k, i) in arrivals.enumerated() {
            out += rb.insert(pkt(start &+ UInt16(i), ts: UInt32(i) &* 960 &+ 0xFFFF_0000), arrivalMicros: Int64(k) * 1000)
            #expect(rb.bufferedCount <= 64)
        }
        out += rb.flush()
        let seqs = sequences(out)
        #expect(seqs == (0..<Int64(n)).map { Int64(start) + $0 })
        #expect(gaps(out).isEmpty)
        // timestamps unwrapped across the 32-bit wrap
        let ts = out.compactMap { if case .packet(let p) = $0 { return p.timestamp } else { return nil } }
        #expect(ts == (0..<Int64(n)).map { 0xFFFF_0000 + $0 * 960 })
        var expected = ReorderStats()
        expected.received = arrivals.count
        expected.duplicates = expectedDuplicates
        expected.reordered = expectedReordered
        expected.released = n
        #expect(rb.stats == expected)
    }

    @Test func boundedByPacketCount() {
        var rb = ReorderBuffer(maxPackets: 8, maxDelayMicros: 10_000_000)
        var out = rb.insert(pkt(100), arrivalMicros: 0)
        for s in UInt16(102)...120 {
            out += rb.insert(pkt(s), arrivalMicros: 0)
            #expect(rb.bufferedCount <= 8)
        }
        // 101 was given up when 109 arrived (109 >= 101 + 8); everything else flowed in order.
        #expect(gaps(out) == [[101, 1]])
        #expect(sequences(out) == [100] + (102...120).map { Int64($0) })
        #expect(rb.bufferedCount == 0)
        _ = rb.insert(pkt(101), arrivalMicros: 1)
        #expect(rb.stats.late == 1)
        #expect(rb.stats.lost == 1)
    }

    @Test func boundedByTime() {
        var rb = ReorderBuffer(maxPackets: 256, maxDelayMicros: 100_000)
        var out = rb.insert(pkt(0), arrivalMicros: 0)
        out += rb.insert(pkt(2), arrivalMicros: 10_000)
        out += rb.insert(pkt(3), arrivalMicros: 20_000)
        out += rb.insert(pkt(6), arrivalMicros: 50_000)
        // The first packet waits its full delay too (a predecessor may still come).
        #expect(sequences(out) == [])
        #expect(rb.advance(toMicros: 99_999).isEmpty)
        #expect(sequences(rb.advance(toMicros: 100_000)) == [0])
        #expect(rb.advance(toMicros: 109_999).isEmpty)
        let a = rb.advance(toMicros: 110_000)
        #expect(gaps(a) == [[1, 1]])
        #expect(sequences(a) == [2, 3])
        let b = rb.advance(toMicros: 150_000)
        #expect(gaps(b) == [[4, 2]])
        #expect(sequences(b) == [6])
        // 1 arrives after it was declared lost: late; 2 again: duplicate of a released packet
        #expect(rb.insert(pkt(1), arrivalMicros: 160_000).isEmpty)
        #expect(rb.insert(pkt(2), arrivalMicros: 160_000).isEmpty)
        #expect(sequences(rb.insert(pkt(7), arrivalMicros: 170_000)) == [7])
        #expect(rb.stats.late == 1)
        #expect(rb.stats.duplicates == 1)
        #expect(rb.stats.lost == 3)
        #expect(rb.stats.received == 7)
        #expect(rb.stats.released == 5)
    }

    @Test func insertAlsoAdvancesTime() {
        var rb = ReorderBuffer(maxPackets: 256, maxDelayMicros: 100_000)
        _ = rb.insert(pkt(10), arrivalMicros: 0)
        _ = rb.insert(pkt(12), arrivalMicros: 1_000)
        // No advance() call: the next arrival is past 12's deadline, so 11 is given up first.
        let out = rb.insert(pkt(13), arrivalMicros: 200_000)
        #expect(gaps(out) == [[11, 1]])
        #expect(sequences(out) == [10, 12, 13])
    }

    @Test func packetSentBeforeTheFirstArrivalStillGetsIn() {
        var rb = ReorderBuffer(maxPackets: 256, maxDelayMicros: 100_000)
        var out = rb.insert(pkt(501), arrivalMicros: 0)
        out += rb.insert(pkt(500), arrivalMicros: 1_000)
        out += rb.insert(pkt(502), arrivalMicros: 2_000)
        out += rb.flush()
        #expect(sequences(out) == [500, 501, 502])
        #expect(rb.stats.late == 0 && rb.stats.lost == 0)
    }

    @Test func senderRestartIsFollowedNotStalled() {
        var rb = ReorderBuffer(maxPackets: 64, maxDelayMicros: 100_000)
        var out: [ReorderOutput] = []
        var t: Int64 = 0
        for s in 20_000..<20_010 { out += rb.insert(pkt(UInt16(s)), arrivalMicros: t); t += 20_000 }
        // The sender restarts at 5000: three packets confirm it, the first two are dropped.
        for s in 5_000..<5_020 { out += rb.insert(pkt(UInt16(s)), arrivalMicros: t); t += 20_000 }
        out += rb.flush()
        let seqs = sequences(out)
        #expect(seqs.count == 10 + 18)
        #expect(zip(seqs, seqs.dropFirst()).allSatisfy { $0 < $1 })
        #expect(rb.stats.restarts == 1)
        #expect(rb.stats.late == 2)
        #expect(gaps(out) == [[20_010, 1]])
    }

    @Test func gapAcrossWrapAndFlush() {
        var rb = ReorderBuffer()
        var out = rb.insert(pkt(65534), arrivalMicros: 0)
        out += rb.insert(pkt(65535), arrivalMicros: 1)
        out += rb.insert(pkt(2), arrivalMicros: 2)
        out += rb.insert(pkt(4), arrivalMicros: 3)
        out += rb.flush()
        #expect(sequences(out) == [65534, 65535, 65538, 65540])
        #expect(gaps(out) == [[65536, 2], [65539, 1]])
        #expect(rb.stats.lost == 3)
        // Outputs are in order: gap before the packet after it.
        if case .gap(let f, _) = out[2] { #expect(f == 65536) } else { Issue.record("expected gap at index 2") }
    }

    @Test func hugeJumpIsBounded() {
        var rb = ReorderBuffer(maxPackets: 16, maxDelayMicros: 1000)
        _ = rb.insert(pkt(0), arrivalMicros: 0)
        let out = rb.insert(pkt(20_000), arrivalMicros: 1)
        #expect(gaps(out) == [[1, 20_000 - 16]])
        #expect(rb.bufferedCount == 1)
        let later = rb.advance(toMicros: 2_000)
        #expect(gaps(later) == [[20_000 - 15, 15]])
        #expect(sequences(later) == [20_000])
    }
}
