import Testing
import Foundation
@testable import SDP

@Suite struct SessionDescriptionTests {
    static let chromeOffer = """
    v=0
    o=- 4611731400430051336 2 IN IP4 127.0.0.1
    s=-
    t=0 0
    a=group:BUNDLE 0 1
    a=msid-semantic: WMS stream
    m=audio 9 UDP/TLS/RTP/SAVPF 111 0
    c=IN IP4 0.0.0.0
    a=rtcp:9 IN IP4 0.0.0.0
    a=ice-ufrag:abcd
    a=ice-pwd:0123456789abcdefghijklmn
    a=fingerprint:sha-256 AA:BB:CC
    a=setup:actpass
    a=mid:0
    a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
    a=sendonly
    a=rtcp-mux
    a=rtpmap:111 opus/48000/2
    a=rtcp-fb:111 transport-cc
    a=fmtp:111 minptime=10;useinbandfec=1
    a=ssrc:1111 cname:alice
    a=ssrc:1111 msid:stream audio
    m=video 9 UDP/TLS/RTP/SAVPF 96 97 98
    c=IN IP4 0.0.0.0
    a=mid:1
    a=extmap:3/sendonly urn:3gpp:video-orientation
    a=sendonly
    a=rtpmap:96 VP8/90000
    a=rtcp-fb:96 nack
    a=rtcp-fb:96 nack pli
    a=rtpmap:97 rtx/90000
    a=fmtp:97 apt=96
    a=rtpmap:98 VP9/90000
    a=rtcp-fb:* ccm fir
    a=ssrc:2222 cname:alice
    """.replacingOccurrences(of: "\n", with: "\r\n")

    @Test func parsesChromeStyleOffer() throws {
        let sdp = try SessionDescription(parsing: Self.chromeOffer)
        #expect(sdp.bundleMids == ["0", "1"])
        #expect(sdp.media.count == 2)
        let audio = sdp.media[0]
        #expect(audio.media == "audio")
        #expect(audio.mid == "0")
        #expect(audio.direction == "sendonly")
        #expect(audio.hasFlag("rtcp-mux"))
        #expect(audio.attribute("ice-ufrag") == "abcd")
        let formats = audio.payloadFormats
        #expect(formats.map(\.payloadType) == [111, 0])
        #expect(formats[0].encodingName == "opus" && formats[0].clockRate == 48000 && formats[0].channels == 2)
        #expect(formats[0].parameter("useinbandfec") == "1")
        #expect(formats[0].feedback == ["transport-cc"])
        #expect(formats[1].encodingName == "PCMU")
        #expect(audio.headerExtensions[1] == "urn:ietf:params:rtp-hdrext:ssrc-audio-level")
        #expect(audio.ssrcs.map(\.ssrc) == [1111] && audio.ssrcs[0].cname == "alice")

        let video = sdp.media[1].payloadFormats
        #expect(video.map(\.encodingName) == ["VP8", "rtx", "VP9"])
        #expect(video[0].feedback == ["nack", "nack pli", "ccm fir"])
        #expect(video[1].parameter("apt") == "96")
        #expect(video[2].feedback == ["ccm fir"])
        #expect(sdp.media[1].headerExtensions[3] == "urn:3gpp:video-orientation")
    }

    @Test func serializesBackLosslessly() throws {
        let sdp = try SessionDescription(parsing: Self.chromeOffer)
        let again = try SessionDescription(parsing: sdp.serialized)
        #expect(again == sdp)
        #expect(sdp.serialized.hasSuffix("\r\n"))
        #expect(sdp.serialized.contains("m=video 9 UDP/TLS/RTP/SAVPF 96 97 98\r\nc=IN IP4 0.0.0.0\r\n"))
    }

    @Test func acceptsBareLineFeeds() throws {
        let sdp = try SessionDescription(parsing: "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\nm=audio 9 RTP/AVP 0\n")
        #expect(sdp.media.first?.payloadFormats.first?.encodingName == "PCMU")
    }

    @Test(arguments: [
        ("", 1), ("o=- 1 1 IN IP4 0.0.0.0\r\n", 1), ("v=0\r\nnot a line\r\n", 2),
        ("v=0\r\nm=audio\r\n", 2), ("v=0\r\nm=audio x RTP/AVP 0\r\n", 2), ("v=0\r\nX=1\r\n", 2),
    ])
    func rejectsMalformedWithLineNumber(text: String, line: Int) {
        #expect {
            _ = try SessionDescription(parsing: text)
        } throws: { error in
            (error as? SDPError)?.line == line
        }
    }

    @Test func survivesRandomBytes() {
        var state: UInt64 = 42
        for _ in 0..<2000 {
            var bytes: [UInt8] = Array("v=0\r\n".utf8)
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let count = Int(state >> 56)
            for _ in 0..<count {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                bytes.append(UInt8(truncatingIfNeeded: state >> 33) & 0x7F)
            }
            _ = try? SessionDescription(parsing: String(decoding: bytes, as: UTF8.self))
        }
    }
}

@Suite struct ReceiveOnlyAnswerTests {
    static let options = AnswerOptions(iceUfrag: "rec1", icePwd: "0123456789abcdefghijklmn", fingerprint: "sha-256 AA:BB",
                                       candidates: ["1 1 udp 2130706431 10.99.0.1 50000 typ host"])

    @Test func answersAudioAndVideoReceiveOnly() throws {
        let offer = try SessionDescription(parsing: SessionDescriptionTests.chromeOffer + "\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n")
        let (answer, media) = try SessionDescription.receiveOnlyAnswer(to: offer, options: Self.options)
        let reparsed = try SessionDescription(parsing: answer.serialized)
        #expect(reparsed.bundleMids == ["0", "1"])
        try #require(reparsed.media.count == 3)
        let audio = reparsed.media[0]
        #expect(audio.port == 9 && audio.direction == "recvonly" && audio.hasFlag("rtcp-mux"))
        #expect(audio.payloadFormats.map(\.encodingName) == ["opus"])  // PCMU dropped
        #expect(audio.payloadFormats[0].feedback == ["transport-cc"])
        #expect(audio.attribute("setup") == "active" && audio.attribute("fingerprint") == "sha-256 AA:BB")
        #expect(audio.attribute("ice-ufrag") == "rec1" && audio.attributes("candidate").count == 1)
        #expect(audio.headerExtensions == [1: "urn:ietf:params:rtp-hdrext:ssrc-audio-level"])
        let video = reparsed.media[1]
        #expect(video.payloadFormats.map(\.encodingName) == ["VP8", "VP9", "rtx"])
        #expect(video.payloadFormats[0].feedback == ["nack", "nack pli", "ccm fir"])
        #expect(video.headerExtensions.isEmpty)  // video-orientation is not handled
        // The data channel is rejected with port 0, not a failure.
        #expect(reparsed.media[2].port == 0 && media[2].rejection != nil)
        #expect(media[0].ssrcs == [1111] && media[1].ssrcs == [2222])
    }

    @Test func rejectsWhatCannotBeRecorded() throws {
        let onlyG722 = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 CC\r\nm=audio 9 UDP/TLS/RTP/SAVPF 9\r\na=mid:a\r\na=sendonly\r\na=rtpmap:9 G722/8000\r\n"
        #expect(throws: SDPError.self) { try SessionDescription.receiveOnlyAnswer(to: SessionDescription(parsing: onlyG722), options: Self.options) }
        let plainRTP = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 5004 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n"
        do {
            _ = try SessionDescription.receiveOnlyAnswer(to: SessionDescription(parsing: plainRTP), options: Self.options)
            Issue.record("plain RTP must not be answered")
        } catch {
            #expect(error.reason.contains("not DTLS-SRTP"))
        }
    }
}
