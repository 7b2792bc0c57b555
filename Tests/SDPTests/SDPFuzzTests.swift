import SeededRandom
import Testing
@testable import SDP

/// Seeded random and mutated documents through the parser and the receive-only answer: they
/// either parse (and answer, or refuse with a reason) or fail with a line number — never crash.
@Suite struct SDPFuzzTests {
    static let pieces = [
        "v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1", "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "c=IN IP4 0.0.0.0",
        "a=mid:0", "a=mid:1", "a=sendonly", "a=rtpmap:111 opus/48000/2", "a=rtpmap:96 VP8/90000", "a=rtpmap:97 rtx/90000",
        "a=fmtp:97 apt=96", "a=fmtp:111 minptime=10;useinbandfec=1", "a=rtcp-fb:96 nack", "a=rtcp-fb:* nack pli",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid", "a=ssrc:1 cname:x", "a=ssrc-group:FID 1 2",
        "a=ice-ufrag:abcd", "a=ice-pwd:0123456789012345678901", "a=fingerprint:sha-256 AB:CD", "a=setup:actpass",
        "a=candidate:1 1 udp 2130706431 10.0.0.1 5000 typ host", "a=rtpmap:", "a=rtpmap:999999 x/y", "m=", "m=video",
        "a=fmtp:96", "a=extmap:x", "a=ssrc:notanumber", "b=AS:500", "a=rtcp-fb:", "\u{0}", "é", "a=", "=", "",
    ]

    @Test func randomDocumentsNeverCrash() {
        var random = SplitMix64(seed: 0x5D9)
        let options = AnswerOptions(iceUfrag: "u", icePwd: "p", fingerprint: "sha-256 00")
        var parsed = 0, answered = 0
        for _ in 0..<5_000 {
            var lines = (0..<Int(random.next() % 30)).map { _ in Self.pieces[Int(random.next() % UInt64(Self.pieces.count))] }
            if random.next() % 2 == 0 { lines.insert("v=0", at: 0) }
            let text = lines.joined(separator: random.next() % 2 == 0 ? "\r\n" : "\n")
            guard let description = try? SessionDescription(parsing: text) else { continue }
            parsed += 1
            _ = description.serialized
            if (try? SessionDescription.receiveOnlyAnswer(to: description, options: options)) != nil { answered += 1 }
        }
        #expect(parsed > 500 && answered > 0, "parsed \(parsed), answered \(answered)")
    }

    @Test func mutatedOffersNeverCrash() throws {
        var random = SplitMix64(seed: 0xBADC0DE)
        let original = Array(SessionDescriptionTests.chromeOffer.utf8)
        let options = AnswerOptions(iceUfrag: "u", icePwd: "p", fingerprint: "sha-256 00")
        for _ in 0..<5_000 {
            var bytes = original
            for _ in 0..<(1 + Int(random.next() % 8)) {
                let at = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes.remove(at: at)
                default: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: at)
                }
            }
            do {
                let description = try SessionDescription(parsing: String(decoding: bytes, as: UTF8.self))
                _ = try? SessionDescription.receiveOnlyAnswer(to: description, options: options)
            } catch {
                #expect(error.line >= 1)
            }
        }
    }
}
