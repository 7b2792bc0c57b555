import Media
import Testing
@testable import Ingest

/// Streams are placed by the senders' clocks relative to each other, but a report that would move
/// a stream far from where it arrived is not believed.
@Suite struct ParticipantClockTests {
    private let audio = StreamKey(input: 0, ssrc: 1), video = StreamKey(input: 0, ssrc: 2)

    private func stream(_ key: StreamKey, _ codec: Codec, report: ClockMapping?) -> StreamInfo {
        var info = StreamInfo(key: key, codec: codec, codecSource: "sdp", payloadType: 0, participant: "p", arrivalMicros: 0)
        info.senderReport = report
        return info
    }

    private func frame(_ codec: Codec, rtp: Int64, arrival: Int64) -> EncodedFrame {
        EncodedFrame(codec: codec, data: [1], rtpTimestamp: rtp, arrivalMicros: arrival, isKeyframe: true)
    }

    /// Audio arrives at 0 and video 80 ms later, but the senders' clocks say they were captured together.
    private func place(videoReportWall: Int64) -> Int64 {
        var clock = ParticipantClock(originMicros: 0, streams: [
            stream(audio, .opus, report: ClockMapping(wallMicros: 1_000_000, rtpTimestamp: 0)),
            stream(video, .vp8, report: ClockMapping(wallMicros: videoReportWall, rtpTimestamp: 0)),
        ])
        #expect(clock.presentationMicros(of: frame(.opus, rtp: 0, arrival: 0), stream: audio) == 0)
        return clock.presentationMicros(of: frame(.vp8, rtp: 0, arrival: 80_000), stream: video)
    }

    @Test func reportsSetLipSync() {
        #expect(place(videoReportWall: 1_000_000) == 0)
        #expect(place(videoReportWall: 1_500_000) == 500_000)
    }

    @Test func aReportFarFromTheArrivalIsNotBelieved() {
        // An hour off (a clock jump or a hostile report): the stream stays where it arrived.
        #expect(place(videoReportWall: 1_000_000 + 3_600_000_000) == 80_000)
        #expect(place(videoReportWall: 1_000_000 + ParticipantClock.maxReportCorrectionMicros + 200_000) == 80_000)
    }
}
