import Testing
import AudioMix

private func read(_ t: PCMTimeline, from: Int64, count: Int) -> [Int16] {
    var out = [Int16](repeating: 0x5A5A, count: count * t.channels)
    out.withUnsafeMutableBufferPointer { t.read(from: from, count: count, into: $0) }
    return out
}

@Suite struct PCMTimelineTests {
    @Test func writesAtPositionsAndGapsReadAsZero() {
        let t = PCMTimeline(capacitySamples: 1_000)
        #expect(read(t, from: 0, count: 4) == [0, 0, 0, 0])
        t.write([1, 2, 3], at: 10)
        t.write([4, 5], at: 20)
        #expect(t.writtenEnd == 22)
        #expect(read(t, from: 8, count: 16) == [0, 0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 4, 5, 0, 0])
        t.write([9], at: 11)  // overwrite
        #expect(read(t, from: 10, count: 3) == [1, 9, 3])
        #expect(t.writtenEnd == 22)
        // Before the first write: nothing retained.
        t.write([7, 7], at: 5)
        #expect(read(t, from: 5, count: 2) == [0, 0])
    }

    @Test func capacityIsBoundedAndReusedSlotsReadAsSilence() {
        let t = PCMTimeline(capacitySamples: 100)
        t.write((0..<100).map { Int16($0 + 1) }, at: 0)
        #expect(read(t, from: 0, count: 100) == (0..<100).map { Int16($0 + 1) })
        // Writing at 150..<160 moves the window to [60, 160): 0..<60 dropped, and the slots that
        // 0..<60 used now stand for 100..<160, never written except 150..<160.
        t.write([Int16](repeating: -7, count: 10), at: 150)
        #expect(t.retainedStart == 60)
        #expect(read(t, from: 0, count: 60) == [Int16](repeating: 0, count: 60))
        #expect(read(t, from: 60, count: 40) == (60..<100).map { Int16($0 + 1) })
        #expect(read(t, from: 100, count: 50) == [Int16](repeating: 0, count: 50))
        #expect(read(t, from: 150, count: 12) == [Int16](repeating: -7, count: 10) + [0, 0])
        #expect(t.writtenEnd == 160)
        // Far ahead: everything old is gone.
        t.write([3], at: 10_000)
        #expect(read(t, from: 9_901, count: 100) == [Int16](repeating: 0, count: 99) + [3])
        #expect(read(t, from: 60, count: 100) == [Int16](repeating: 0, count: 100))
    }

    @Test func oversizedWriteKeepsItsLastCapacity() {
        let t = PCMTimeline(capacitySamples: 10)
        t.write((0..<25).map { Int16($0) }, at: 100)
        #expect(t.retainedStart == 115)
        #expect(t.writtenEnd == 125)
        #expect(read(t, from: 110, count: 20) == [0, 0, 0, 0, 0] + (15..<25).map { Int16($0) } + [0, 0, 0, 0, 0])
    }

    @Test func discardDropsOldDataAndLateWritesAreIgnored() {
        let t = PCMTimeline(capacitySamples: 1_000)
        t.write((1...100).map { Int16($0) }, at: 0)
        t.discard(before: 50)
        #expect(read(t, from: 40, count: 20) == [Int16](repeating: 0, count: 10) + (51...60).map { Int16($0) })
        t.write([9, 9, 9], at: 48)  // straddles the discard point: only 50 lands
        #expect(read(t, from: 48, count: 3) == [0, 0, 9])
        // Slots freed by discard come back as silence when the window moves on.
        t.write([1], at: 1_049)
        #expect(read(t, from: 1_000, count: 49) == [Int16](repeating: 0, count: 49))
    }

    @Test func stereoIsInterleavedPerPosition() {
        let t = PCMTimeline(channels: 2, capacitySamples: 8)
        t.write([1, -1, 2, -2, 3, -3], at: 4)
        #expect(t.writtenEnd == 7)
        #expect(read(t, from: 3, count: 5) == [0, 0, 1, -1, 2, -2, 3, -3, 0, 0])
        t.write([5, -5, 6, -6], at: 13)  // wraps the ring; window [7, 15)
        #expect(read(t, from: 4, count: 11) == [Int16](repeating: 0, count: 18) + [5, -5, 6, -6])
    }

    @Test func releaseLetsGoOfTheBufferAndTheNextWriteStartsAfresh() {
        let t = PCMTimeline(capacitySamples: 100)
        #expect(!t.holdsBuffer)
        t.discard(before: 10)  // a discard alone allocates nothing
        #expect(!t.holdsBuffer && read(t, from: 0, count: 20) == [Int16](repeating: 0, count: 20))
        t.write([1, 2, 3], at: 20)
        #expect(t.holdsBuffer && read(t, from: 19, count: 5) == [0, 1, 2, 3, 0])
        t.release()
        #expect(!t.holdsBuffer && t.retainedStart == nil)
        #expect(read(t, from: 19, count: 5) == [0, 0, 0, 0, 0])
        // A new window: earlier positions are taken again.
        t.write([4, 5], at: 5)
        #expect(t.holdsBuffer && t.retainedStart == 5 && read(t, from: 4, count: 4) == [0, 4, 5, 0])
    }
}
