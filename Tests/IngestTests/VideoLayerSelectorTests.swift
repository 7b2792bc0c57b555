import Media
import Testing
@testable import Ingest

/// The choice between a participant's video streams (simulcast layers, a restarted sender), and
/// the freezes of what was chosen.
@Suite struct VideoLayerSelectorTests {
    let low = StreamKey(input: 0, ssrc: 1), mid = StreamKey(input: 0, ssrc: 2), high = StreamKey(input: 0, ssrc: 3)
    let sizes: [UInt32: (Int, Int)] = [1: (320, 180), 2: (640, 360), 3: (1280, 720)]

    func frame(_ key: StreamKey, _ index: Int, keyframe: Bool = false, atMicros: Int64? = nil) -> RoomFrame {
        let size = sizes[key.ssrc]!
        let frame = EncodedFrame(codec: .vp8, data: [UInt8(index & 0xFF)], rtpTimestamp: Int64(index) * 3000,
                                 arrivalMicros: atMicros ?? 1_000_000 + Int64(index) * 33_333, isKeyframe: keyframe,
                                 width: keyframe ? size.0 : nil, height: keyframe ? size.1 : nil)
        return RoomFrame(stream: key, frame: frame)
    }

    /// Feeds frame `i` of each listed stream for `range`; returns the passed frames' streams and indices.
    func run(_ selector: inout VideoLayerSelector, _ range: Range<Int>, streams: [StreamKey],
             keyframes: [StreamKey: Set<Int>] = [:]) -> [(StreamKey, Int)] {
        var passed: [(StreamKey, Int)] = []
        for i in range {
            for key in streams {
                for out in selector.add(frame(key, i, keyframe: keyframes[key]?.contains(i) == true)) {
                    passed.append((out.stream, Int(out.frame.rtpTimestamp / 3000)))
                }
            }
        }
        return passed
    }

    @Test func oneStreamPassesEveryFrame() {
        var selector = VideoLayerSelector()
        selector.addStream(low)
        let passed = run(&selector, 0..<30, streams: [low], keyframes: [low: [5]])
        #expect(passed.count == 30 && selector.summary.switches.isEmpty && selector.summary.freezes == 0)
    }

    @Test func theLargestLayerIsChosenAtTheStartFromItsKeyframe() {
        var selector = VideoLayerSelector()
        for key in [low, mid, high] { selector.addStream(key) }
        let passed = run(&selector, 0..<60, streams: [low, mid, high], keyframes: [low: [0], mid: [0], high: [0]])
        // Every layer's keyframe is in at once: the high layer from its keyframe on, every one of its frames, nothing else.
        #expect(passed.allSatisfy { $0.0 == high } && passed.map(\.1) == Array(0..<60), "\(passed.map(\.1))")
        #expect(selector.summary.switches.map(\.ssrc) == [3] && selector.summary.switches[0].width == 1280)
    }

    @Test func withoutEveryLayersKeyframeTheChoiceWaitsForTheHold() {
        var selector = VideoLayerSelector()
        for key in [low, high] { selector.addStream(key) }
        // The high layer's frames come late (live: they wait for its Sender Report); low's alone for 1.6 s.
        let early = run(&selector, 0..<49, streams: [low], keyframes: [low: [0]])
        #expect(early.isEmpty)
        let passed = run(&selector, 0..<60, streams: [high], keyframes: [high: [0]])
        #expect(passed.allSatisfy { $0.0 == high } && passed.map(\.1) == Array(0..<60), "\(passed.map(\.1))")
    }

    @Test func aPausedTopLayerFallsBackAtTheNextKeyframeAndReturns() {
        var selector = VideoLayerSelector()
        for key in [low, high] { selector.addStream(key) }
        var passed = run(&selector, 0..<90, streams: [low, high], keyframes: [low: [0], high: [0]])
        // The top layer pauses at frame 90; the low one sends a keyframe at 100 (asked for after the pause).
        passed += run(&selector, 90..<200, streams: [low], keyframes: [low: [100]])
        // Frames 100… of the low layer are passed once it is clear the top layer stalled (500 ms), nothing before.
        let lowPassed = passed.filter { $0.0 == low }.map(\.1)
        #expect(lowPassed == Array(100..<200), "\(lowPassed)")
        // The top layer resumes with a keyframe at 200: switched back at once.
        passed = run(&selector, 200..<230, streams: [high, low], keyframes: [high: [200]])
        #expect(passed.allSatisfy { $0.0 == high } && passed.map(\.1) == Array(200..<230))
        #expect(selector.summary.switches.map(\.ssrc) == [3, 1, 3])
        // The gap between frame 89 (high) and 100 (low) is a freeze of about 367 ms (the low layer kept coming).
        let summary = selector.summary
        #expect(summary.freezes == 1 && abs(summary.longestFreezeMicros - 366_663) < 1_000, "\(summary)")
    }

    @Test func aKeyframeFromBeforeTheStallIsNotReplayed() {
        var selector = VideoLayerSelector()
        for key in [low, high] { selector.addStream(key) }
        _ = run(&selector, 0..<90, streams: [low, high], keyframes: [low: [0, 80], high: [0]])
        // The low layer's latest keyframe (80) came before the top layer's last frame (89): showing it
        // would go back in time. Only its next keyframe (130) starts the fallback.
        let passed = run(&selector, 90..<160, streams: [low], keyframes: [low: [130]])
        #expect(passed.map(\.1) == Array(130..<160), "\(passed.map(\.1))")
    }

    @Test func aRestartedSenderIsFollowedWithoutLosingItsFirstFrames() {
        var selector = VideoLayerSelector()
        selector.addStream(mid)
        var passed = run(&selector, 0..<30, streams: [mid], keyframes: [mid: [0]])
        // A new SSRC of the same size from frame 40 on: the old one stopped at 29.
        let restarted = StreamKey(input: 0, ssrc: 4)
        selector.addStream(restarted)
        for i in 40..<80 {
            let f = frame(mid, i, keyframe: i == 40)
            passed += selector.add(RoomFrame(stream: restarted, frame: f.frame)).map { ($0.stream, Int($0.frame.rtpTimestamp / 3000)) }
        }
        #expect(passed.filter { $0.0 == restarted }.map(\.1) == Array(40..<80))
    }

    @Test func freezesCountOnlyWhileTheParticipantKeepsSending() {
        var selector = VideoLayerSelector()
        selector.addStream(low)
        _ = run(&selector, 0..<30, streams: [low], keyframes: [low: [0]])
        // 1 s without video while audio comes every 20 ms: a freeze.
        for t in stride(from: Int64(2_000_000), to: 3_000_000, by: 20_000) { selector.noteActivity(arrivalMicros: t) }
        _ = selector.add(frame(low, 90, atMicros: 3_000_000))
        // 2 s without anything (the sender paused): not a freeze.
        _ = selector.add(frame(low, 150, atMicros: 5_000_000))
        let summary = selector.summary
        #expect(summary.freezes == 1 && summary.longestFreezeMicros > 1_000_000 && summary.longestFreezeMicros < 1_100_000, "\(summary)")
    }
}
