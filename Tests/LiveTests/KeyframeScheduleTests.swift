import Testing
@testable import Live

/// When a live `--segment` recording asks its senders for keyframes.
@Suite struct KeyframeScheduleTests {
    /// Polls every 100 ms from room time `from` to `to` (s); returns the room times (ms) of the requests.
    private func requests(_ schedule: inout KeyframeSchedule, from: Int64, to: Int64, awaiting: (Int64) -> Bool = { _ in false }) -> [Int64] {
        stride(from: from * 1000, to: to * 1000, by: 100).filter { ms in
            schedule.due(roomMicros: ms * 1000, awaiting: awaiting(ms), nowMicros: ms * 1000)
        }
    }

    @Test func justAfterEachBoundaryOnTheWallClock() {
        var schedule = KeyframeSchedule(segmentSeconds: 10)
        let beforeAnyPacket = schedule.due(roomMicros: nil, awaiting: false, nowMicros: 0)
        #expect(!beforeAnyPacket)
        let asked = requests(&schedule, from: 0, to: 35)
        #expect(asked == [10_100, 20_100, 30_100])
    }

    @Test func againOnceASecondWhileAFileWaitsAtMostFiveTimes() {
        var schedule = KeyframeSchedule(segmentSeconds: 10)
        // A file waits from 10.3 s to 12.5 s: asked at the boundary, then at 11.1 and 12.1.
        let first = requests(&schedule, from: 0, to: 19) { (10_300..<12_500).contains($0) }
        #expect(first == [10_100, 11_100, 12_100])
        // A sender that never answers: five requests, then no more until the next boundary.
        let second = requests(&schedule, from: 19, to: 30) { $0 >= 20_200 }
        #expect(second == [20_100, 21_100, 22_100, 23_100, 24_100])
        let third = requests(&schedule, from: 30, to: 31) { _ in true }
        #expect(third == [30_100])
    }

    @Test func aLateFirstPollSkipsToTheCurrentSegment() {
        var schedule = KeyframeSchedule(segmentSeconds: 10)
        let late = schedule.due(roomMicros: 25_000_000, awaiting: false, nowMicros: 0)
        #expect(late)
        let asked = requests(&schedule, from: 25, to: 31)
        #expect(asked == [30_100])
    }
}
