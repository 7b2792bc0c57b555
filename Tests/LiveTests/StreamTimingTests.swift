import Ingest
import Media
import Testing
@testable import Live

/// A newcomer's frames wait until its streams' Sender Reports are in (or the hold is over), then go
/// on in order with the streams' timing first; later streams are not held.
@Suite struct StreamTimingTests {
    private let audio = StreamKey(input: 0, ssrc: 1), video = StreamKey(input: 0, ssrc: 2)

    private func stream(_ key: StreamKey, _ codec: Codec, at micros: Int64) -> StreamInfo {
        StreamInfo(key: key, codec: codec, codecSource: "sdp", payloadType: 0, participant: "p", arrivalMicros: micros)
    }

    private func frame(_ key: StreamKey, at micros: Int64) -> RoomFrame {
        RoomFrame(stream: key, frame: EncodedFrame(codec: key == audio ? .opus : .vp8, data: [1], rtpTimestamp: micros, arrivalMicros: micros, isKeyframe: true))
    }

    private func frames(_ steps: [StreamTiming.Step]) -> [Int64] {
        steps.compactMap { if case .frame(let f) = $0 { f.frame.arrivalMicros } else { nil } }
    }

    private func timings(_ steps: [StreamTiming.Step]) -> [StreamInfo] {
        steps.compactMap { if case .timing(let info) = $0 { info } else { nil } }
    }

    @Test func framesWaitForTheSenderReportsOfAudioAndVideoThenGoOnInOrder() {
        var timing = StreamTiming()
        _ = timing.declare(stream(audio, .opus, at: 0))
        _ = timing.declare(stream(video, .vp8, at: 10_000))
        timing.observe(audio, timestamp: 0, arrivalMicros: 5_000)
        timing.observe(audio, timestamp: 960, arrivalMicros: 21_000)
        #expect(timing.frame(frame(audio, at: 0)).isEmpty && timing.frame(frame(video, at: 10_000)).isEmpty)
        #expect(timing.senderReport(audio, ClockMapping(wallMicros: 1, rtpTimestamp: 0)).isEmpty)
        #expect(timing.release(now: 500_000).isEmpty, "video has no report yet")
        _ = timing.senderReport(video, ClockMapping(wallMicros: 2, rtpTimestamp: 0))
        _ = timing.frame(frame(audio, at: 20_000))
        let steps = timing.release(now: 600_000)
        #expect(frames(steps) == [0, 10_000, 20_000])
        let infos = timings(steps)
        #expect(infos.map(\.key) == [audio, video] && infos.allSatisfy { $0.senderReport != nil })
        // The least-delayed audio packet: 21 ms arrival for the 20 ms timestamp (1 ms late) beats 5 ms for 0 (5 ms late).
        #expect(infos[0].arrivalMapping == ClockMapping(wallMicros: 21_000, rtpTimestamp: 960))
        // Released: frames pass straight on, and a later report is passed on for streams not placed yet.
        #expect(frames(timing.frame(frame(video, at: 700_000))) == [700_000])
        #expect(timing.senderReport(video, ClockMapping(wallMicros: 3, rtpTimestamp: 9)).isEmpty, "only the first report counts")
    }

    @Test func withoutReportsTheHoldEndsAfterItsTimeAndALaterStreamIsNotHeld() {
        var timing = StreamTiming()
        _ = timing.declare(stream(audio, .opus, at: 100))
        _ = timing.frame(frame(audio, at: 100))
        #expect(timing.release(now: 100 + StreamTiming.holdMicros - 1).isEmpty)
        #expect(frames(timing.release(now: 100 + StreamTiming.holdMicros)) == [100])
        // Video starting later: its report, come before its first packet, is known at once; nothing is held.
        #expect(timing.senderReport(video, ClockMapping(wallMicros: 7, rtpTimestamp: 0)).isEmpty)
        #expect(timing.declare(stream(video, .vp8, at: 3_000_000)).senderReport == ClockMapping(wallMicros: 7, rtpTimestamp: 0))
        #expect(frames(timing.frame(frame(video, at: 3_000_000))) == [3_000_000])
    }

    @Test func theEndReleasesEveryone() {
        var timing = StreamTiming()
        _ = timing.declare(stream(audio, .opus, at: 0))
        _ = timing.frame(frame(audio, at: 0))
        #expect(frames(timing.release(now: .max, everyone: true)) == [0])
    }
}
