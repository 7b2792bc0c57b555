import Testing
import WHIP

@Suite struct WHIPFragmentTests {
    /// What Chrome-based WHIP clients PATCH: CRLF lines, credentials, BUNDLE, one m= section, host,
    /// mDNS and srflx candidates with Chrome's extension attributes, end-of-candidates.
    static let chromeTrickle = [
        "a=ice-ufrag:EsAw",
        "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1",
        "a=group:BUNDLE 0 1",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "a=mid:0",
        "a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1",
        "a=candidate:2950226556 1 udp 2113937151 4f8c8a2b-3a5e-4f5b-9c8a-1b2c3d4e5f60.local 54321 typ host "
            + "generation 0 ufrag EsAw network-cost 999",
        "a=candidate:842163049 1 udp 1677729535 203.0.113.7 61764 typ srflx raddr 0.0.0.0 rport 0 generation 0 "
            + "ufrag EsAw network-cost 999",
        "a=candidate:473322822 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active generation 0 ufrag EsAw",
        "a=end-of-candidates",
    ].joined(separator: "\r\n") + "\r\n"

    @Test func chromeFragment() throws {
        let fragment = try WHIPFragment(parsing: Self.chromeTrickle)
        #expect(fragment.ufrag == "EsAw")
        #expect(fragment.pwd == "P2uYro0UCOQ4zxjKXaWCBui1")
        #expect(fragment.bundleMids == ["0", "1"])
        #expect(fragment.candidates.count == 4)
        #expect(fragment.candidates.allSatisfy { $0.mid == "0" })
        #expect(fragment.candidates[0].value
            == "1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1")
        #expect(fragment.candidates[2].value.contains("typ srflx raddr 0.0.0.0 rport 0"))
        #expect(fragment.endOfCandidates)
        #expect(!fragment.isICERestart(currentUfrag: "EsAw"))
        #expect(fragment.isICERestart(currentUfrag: "old1"))
    }

    @Test func candidatesTakeTheMidOfTheirSection() throws {
        let text = """
        a=candidate:1 1 udp 100 192.0.2.9 5000 typ host
        m=audio 9 UDP/TLS/RTP/SAVPF 111
        a=candidate:2 1 udp 100 192.0.2.1 5000 typ host
        a=mid:a
        m=video 9 UDP/TLS/RTP/SAVPF 96
        a=mid:v
        a=x-unknown:whatever
        c=IN IP4 0.0.0.0
        a=candidate:3 1 udp 100 192.0.2.2 5002 typ host

        """
        let fragment = try WHIPFragment(parsing: text)
        #expect(fragment.candidates.map(\.mid) == [nil, "a", "v"])
        #expect(fragment.candidates.map(\.value.first) == ["1", "2", "3"])
        #expect(fragment.ufrag == nil && fragment.pwd == nil && !fragment.endOfCandidates)
        #expect(!fragment.isICERestart(currentUfrag: "abcd"))
    }

    @Test func emptyFragmentIsFine() throws {
        let fragment = try WHIPFragment(parsing: "")
        #expect(fragment.candidates.isEmpty && fragment.bundleMids.isEmpty)
    }

    @Test(arguments: [
        ("a=ice-ufrag:abcd\r\ngarbage\r\n", 2),
        ("a=ice-ufrag:abcd\nm=audio 9 UDP/TLS/RTP/SAVPF 111\na=mid:0\na=candidate:1 1 udp\n", 4),
        ("a=candidate:1 1 udp 100 192.0.2.1 5000 host x\n", 1),
        ("a=candidate:1 x udp 100 192.0.2.1 5000 typ host\n", 1),
        ("a=candidate:1 1 udp 100 192.0.2.1 99999 typ host\n", 1),
        ("a=candidate\n", 1),
        ("a=mid:0\n", 1),
        ("m=audio 9 RTP/AVP 0\na=mid:0\na=mid:1\n", 3),
        ("a=ice-ufrag:abcd\n\na=ice-ufrag:efgh\n", 3),
        ("a=ice-ufrag:\n", 1),
        ("a=ice-pwd:has space\n", 1),
        ("a=end-of-candidates:now\n", 1),
        ("m=audio\n", 1),
        ("A=ice-ufrag:abcd\n", 1),
        ("a=group:\n", 1),
    ])
    func malformedLinesAreNamed(text: String, line: Int) {
        #expect {
            try WHIPFragment(parsing: text)
        } throws: { error in
            guard let error = error as? WHIPFragment.ParseError else { return false }
            return error.line == line && error.description.hasPrefix("line \(line): ")
        }
    }
}
