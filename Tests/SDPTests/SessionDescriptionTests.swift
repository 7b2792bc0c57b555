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
