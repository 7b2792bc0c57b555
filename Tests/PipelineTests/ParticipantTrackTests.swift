import Media
import Testing
@testable import Ingest
@testable import Pipeline

@Suite struct ParticipantTrackTests {
    /// A participant that sends two seconds of audio and video, then goes quiet.
    private func talkingParticipant() throws -> (track: ParticipantTrack, video: StreamKey, encoder: VPXEncoder) {
        let track = try ParticipantTrack(name: "p1", index: 0, origin: 0, audioChannels: 1)
        let audio = StreamKey(input: 0, ssrc: 1), video = StreamKey(input: 0, ssrc: 2)
        track.addStream(StreamInfo(key: audio, codec: .opus, codecSource: "sdp", payloadType: 111, participant: "p1", arrivalMicros: 0))
        track.addStream(StreamInfo(key: video, codec: .vp8, codecSource: "sdp", payloadType: 96, participant: "p1", arrivalMicros: 0))
        let opus = try OpusEncoder()
        var settings = VPXEncoder.Settings(width: 64, height: 48)
        settings.fps = 10
        let vpx = try VPXEncoder(settings)
        for i in 0..<100 {
            let pcm = sineWave(frequency: 440, sampleRate: 48_000, count: 960, startSample: i * 960, amplitude: 0.3)
            let frame = EncodedFrame(codec: .opus, data: try opus.encode(pcm), rtpTimestamp: Int64(i * 960), arrivalMicros: Int64(i) * 20_000,
                                     isKeyframe: true)
            track.noteArrival(frame.arrivalMicros)
            _ = track.add(RoomFrame(stream: audio, frame: frame), audioReadPosition: 0, videoShownMicros: 0)
        }
        for i in 0..<20 {
            try add(vpx, i, to: track, stream: video)
        }
        track.decodeVideo(upTo: 2_000_000)
        return (track, video, vpx)
    }

    private func add(_ vpx: VPXEncoder, _ i: Int, to track: ParticipantTrack, stream: StreamKey, arrivalOffset: Int64 = 0) throws {
        for packet in try vpx.encode(I420Frame(width: 64, height: 48, y: UInt8(40 + i), u: 128, v: 128), pts: Int64(i)) {
            let frame = EncodedFrame(codec: .vp8, data: packet.data, rtpTimestamp: Int64(i * 9_000), arrivalMicros: arrivalOffset + Int64(i) * 100_000,
                                     isKeyframe: packet.isKeyframe, width: 64, height: 48)
            track.noteArrival(frame.arrivalMicros)
            _ = track.add(RoomFrame(stream: stream, frame: frame), audioReadPosition: 0, videoShownMicros: 0)
        }
    }

    private func audio(_ track: ParticipantTrack, at position: Int64) -> [Int16] {
        var block = [Int16](repeating: 1, count: 960)
        block.withUnsafeMutableBufferPointer { track.readAudio(from: position, into: $0) }
        return block
    }

    @Test func aParticipantGoneLongEnoughLetsGoOfItsDecodersPictureAndAudio() throws {
        let (track, _, _) = try talkingParticipant()
        guard case .picture = track.tileContent else { Issue.record("no picture after two seconds of video"); return }
        #expect(audio(track, at: 48_000).contains { $0 != 0 })
        // Still within the grace and the release delay: kept.
        track.releaseIfGone(at: 2_000_000 + CompositeRecorder.leaveGraceMicros + ParticipantTrack.releaseAfterMicros - 200_000)
        #expect(!track.isReleased)
        track.releaseIfGone(at: 13_000_000)
        #expect(track.isReleased)
        guard case .placeholder = track.tileContent else { Issue.record("the last picture is kept"); return }
        #expect(audio(track, at: 48_000).allSatisfy { $0 == 0 })
    }

    @Test func aStreamGoingOnAfterTheReleaseWaitsForAKeyframeWithoutDecodeErrors() throws {
        let (track, video, vpx) = try talkingParticipant()
        track.releaseIfGone(at: 13_000_000)
        // The same stream resumes with delta frames: skipped, not errors; its next keyframe shows.
        for i in 20..<25 { try add(vpx, i, to: track, stream: video, arrivalOffset: 12_000_000) }
        #expect(!track.isReleased)
        track.decodeVideo(upTo: 20_000_000)
        #expect(track.decodeErrors == 0)
        guard case .placeholder = track.tileContent else { Issue.record("a delta frame decoded without its references"); return }
        for packet in try vpx.encode(I420Frame(width: 64, height: 48, y: 200, u: 128, v: 128), pts: 25, forceKeyframe: true) {
            let frame = EncodedFrame(codec: .vp8, data: packet.data, rtpTimestamp: 25 * 9_000, arrivalMicros: 14_500_000,
                                     isKeyframe: packet.isKeyframe, width: 64, height: 48)
            _ = track.add(RoomFrame(stream: video, frame: frame), audioReadPosition: 0, videoShownMicros: 0)
        }
        track.decodeVideo(upTo: 20_000_000)
        guard case .picture(let picture) = track.tileContent else { Issue.record("the keyframe after the release did not show"); return }
        #expect(abs(Int(picture.y[picture.y.count / 2]) - 200) < 10 && track.decodeErrors == 0)
    }
}
