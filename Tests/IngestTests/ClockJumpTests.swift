import Media
import RTP
import Testing
@testable import Ingest

/// The sans-IO rules for RTP timestamp jumps (``TimestampContinuity``) and capture clock jumps
/// (``CaptureClockCorrector``): a jump is taken out, a real pause is kept, nothing traps.
@Suite struct ClockJumpUnitTests {
    /// Audio frames every 20 ms from `start` (µs), timestamps from `ts`.
    private func audio(_ count: Int, ts: Int64, start: Int64) -> [EncodedFrame] {
        (0..<count).map { EncodedFrame(codec: .opus, data: [0], rtpTimestamp: ts + Int64($0) * 960, arrivalMicros: start + Int64($0) * 20_000, isKeyframe: true) }
    }

    private func place(_ frames: [EncodedFrame], rate: Int = 48_000) -> (timestamps: [Int64], jumps: Int) {
        var continuity = TimestampContinuity(clockRate: rate)
        let placed = frames.map { continuity.place($0).frame.rtpTimestamp }
        return (placed, continuity.jumps)
    }

    @Test func forwardAndBackwardJumpsAreTakenOut() {
        for jump in [Int64(1 << 30), -(1 << 30), 4_800_000, -96_000] {
            let frames = audio(100, ts: 1000, start: 0) + audio(100, ts: 1000 + 100 * 960 + jump, start: 2_000_000)
            let (timestamps, jumps) = place(frames)
            #expect(jumps == 1, "jump \(jump)")
            // The stream goes on one frame after the last before the jump: 4 s of media, 4 s of timeline.
            #expect(timestamps == (0..<200).map { 1000 + Int64($0) * 960 }, "jump \(jump)")
        }
    }

    @Test func pauseMatchingArrivalIsKept() {
        // Muted for 60 s: arrival and RTP both advance 60 s.
        let frames = audio(50, ts: 0, start: 0) + audio(50, ts: 50 * 960 + 60 * 48_000, start: 61_000_000)
        let (timestamps, jumps) = place(frames)
        #expect(jumps == 0)
        #expect(timestamps == frames.map(\.rtpTimestamp))
        // Jitter and a 3 s network stall followed by a burst are no jumps either.
        var stalled = audio(300, ts: 0, start: 0)
        for i in 100..<250 { stalled[i].arrivalMicros = 5_000_000 + Int64(i) * 100 }
        #expect(place(stalled).jumps == 0)
    }

    @Test func pauseWithFrozenTimestampsIsPlacedByArrival() {
        // The sender's RTP clock stood still over a 30 s pause: the later frames keep the pause.
        let frames = audio(50, ts: 0, start: 0) + audio(50, ts: 50 * 960, start: 31_000_000)
        let (timestamps, jumps) = place(frames)
        #expect(jumps == 1)
        #expect(timestamps[50] == 31_000_000 * 48 / 1000)
    }

    @Test func extremeTimestampsAndArrivalsNeverTrap() {
        let values: [Int64] = [.max, .min, 0, -1, 1 << 62, -(1 << 62), .max / 2]
        var continuity = TimestampContinuity(clockRate: 90_000)
        var delay = MinimumDelay()
        var clock = CaptureClockCorrector()
        for ts in values {
            for arrival in values {
                _ = continuity.place(EncodedFrame(codec: .vp8, data: [0], rtpTimestamp: ts, arrivalMicros: arrival, isKeyframe: true))
                delay.add(timestamp: UInt32(truncatingIfNeeded: ts), arrivalMicros: arrival)
                var packet = [UInt8](repeating: 0, count: 12)
                packet[0] = 0x80
                for i in 0..<4 { packet[4 + i] = UInt8(truncatingIfNeeded: ts >> (24 - 8 * i)) }
                _ = clock.correct(arrival, rtp: RTPHeaderPeek(packet))
                _ = clock.correct(arrival, rtp: nil)
            }
        }
        #expect(microsOfTicks(.max, clockRate: 48_000) > 0 && microsOfTicks(.min, clockRate: 48_000) < 0)
    }

    private func peek(ssrc: UInt32, ts: UInt32) -> RTPHeaderPeek {
        var p: [UInt8] = [0x80, 111, 0, 0]
        for v in [ts, ssrc] { for s in [24, 16, 8, 0] { p.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) } }
        return RTPHeaderPeek(p)!
    }

    @Test func captureClockJumpIsTakenOutAndPauseKept() {
        var clock = CaptureClockCorrector()
        var out: [Int64] = []
        let years: Int64 = 3 * 365 * 86_400 * 1_000_000
        for i in 0..<100 {
            let raw = Int64(i) * 20_000 + (i == 50 ? years : 0) + (i >= 70 ? 60_000_000 : 0)
            // From packet 70 on, a real pause of 60 s: the RTP timestamps advanced as much.
            let ts = UInt32(i * 960 + (i >= 70 ? 60 * 48_000 : 0))
            out.append(clock.correct(raw, rtp: peek(ssrc: 7, ts: ts)))
        }
        #expect(clock.jumps == 2)
        #expect(out[50] == out[49] && out[51] == out[49])
        #expect(out[70] - out[69] == 60_020_000)
        #expect(zip(out, out.dropFirst()).allSatisfy { $1 >= $0 && $1 - $0 <= 60_020_000 })
        #expect(clock.warning(path: "x.pcap", originMicros: 0)?.contains("capture clock jumped +94608000.020 s at 0.980 s") == true)
        // A backward step of the whole clock: later packets follow on.
        var back = CaptureClockCorrector()
        let times = (0..<10).map { back.correct(Int64($0) * 20_000 + ($0 >= 5 ? -years : 0) + years, rtp: peek(ssrc: 1, ts: UInt32($0 * 960))) }
        #expect(back.jumps == 1 && times.last! - times.first! == 8 * 20_000)
    }
}
