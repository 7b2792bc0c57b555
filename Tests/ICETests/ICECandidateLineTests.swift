import Testing
@testable import ICE

@Suite struct ICECandidateLineTests {
    func parseError(_ line: String) -> String? {
        do {
            _ = try ICECandidate(sdpValue: line)
            return nil
        } catch {
            return error.reason
        }
    }

    @Test func hostLine() throws {
        let candidate = try ICECandidate(sdpValue: "1 1 udp 2130706431 10.99.0.1 5000 typ host")
        #expect(candidate == ICECandidate(foundation: "1", priority: 2_130_706_431,
                                          address: STUNAddress(ip: "10.99.0.1", port: 5000), type: .host))
        #expect(candidate.sdpValue == "1 1 udp 2130706431 10.99.0.1 5000 typ host")
        #expect(candidate.sdpAttribute == "candidate:1 1 udp 2130706431 10.99.0.1 5000 typ host")
        #expect(try ICECandidate(sdpValue: "candidate:1 1 UDP 2130706431 10.99.0.1 5000 typ host") == candidate)
        #expect(try ICECandidate(sdpValue: "a=candidate:1 1 udp 2130706431 10.99.0.1 5000 typ host\r\n") == candidate)
    }

    @Test func chromeServerReflexiveLine() throws {
        let line = "candidate:842163049 1 udp 1677729535 1.2.3.4 46154 typ srflx raddr 10.0.0.1 rport 46154 generation 0 ufrag EEtu network-id 3 network-cost 10"
        let candidate = try ICECandidate(sdpValue: line)
        #expect(candidate.foundation == "842163049")
        #expect(candidate.priority == 1_677_729_535)
        #expect(candidate.address == STUNAddress(ip: "1.2.3.4", port: 46154))
        #expect(candidate.type == .serverReflexive)
        #expect(candidate.related == STUNAddress(ip: "10.0.0.1", port: 46154))
        #expect(candidate.sdpValue == "842163049 1 udp 1677729535 1.2.3.4 46154 typ srflx raddr 10.0.0.1 rport 46154")
        #expect(try ICECandidate(sdpValue: candidate.sdpValue) == candidate)
    }

    @Test func otherKinds() throws {
        let mdns = try ICECandidate(sdpValue: "candidate:3 1 udp 2122260223 4b2c7f1e-8d3a-4c5b-9e6f-0a1b2c3d4e5f.local 54321 typ host generation 0")
        #expect(mdns.address.ip == "4b2c7f1e-8d3a-4c5b-9e6f-0a1b2c3d4e5f.local" && mdns.address.ipBytes == nil)
        let tcp = try ICECandidate(sdpValue: "candidate:4 1 tcp 1518280447 192.168.1.2 9 typ host tcptype active generation 0")
        #expect(tcp.transport == "tcp" && tcp.tcpType == "active")
        #expect(tcp.sdpValue == "4 1 tcp 1518280447 192.168.1.2 9 typ host tcptype active")
        let relay = try ICECandidate(sdpValue: "5 2 udp 16777215 2001:db8::7 3478 typ relay raddr 0.0.0.0 rport 0")
        #expect(relay.component == 2 && relay.type == .relayed && relay.address.ip == "2001:db8::7")
        #expect(relay.related == STUNAddress(ip: "0.0.0.0", port: 0))
        let prflx = try ICECandidate(sdpValue: "6 1 udp 1845501695 203.0.113.9 61000 typ prflx raddr 10.0.0.3 rport 5000")
        #expect(prflx.type == .peerReflexive)
        for candidate in [mdns, tcp, relay, prflx] {
            #expect(try ICECandidate(sdpValue: candidate.sdpValue) == candidate)
        }
    }

    @Test func malformedLinesSayWhatIsWrong() {
        let cases: [(String, String)] = [
            ("", "0 fields"),
            ("1 1 udp 2130706431 10.0.0.1 5000 typ", "7 fields"),
            ("1 1 udp 2130706431 10.0.0.1 5000 type host", "\"type\" where \"typ\" belongs"),
            ("1 1 udp 2130706431 10.0.0.1 5000 typ relayed", "type \"relayed\""),
            ("1 0 udp 2130706431 10.0.0.1 5000 typ host", "component \"0\""),
            ("1 x udp 2130706431 10.0.0.1 5000 typ host", "component \"x\""),
            ("1 1 udp 4294967296 10.0.0.1 5000 typ host", "priority \"4294967296\""),
            ("1 1 udp -5 10.0.0.1 5000 typ host", "priority \"-5\""),
            ("1 1 udp 1 10.0.0.300 5000 typ host", "\"10.0.0.300\" is not a valid IP"),
            ("1 1 udp 1 fd00::1::2 5000 typ host", "\"fd00::1::2\" is not a valid IP"),
            ("1 1 udp 1 10.0.0.1 65536 typ host", "port \"65536\""),
            ("1 1 udp 1 host_name 1 typ host", "\"host_name\" is not an IP address or a host name"),
            ("f*o 1 udp 1 10.0.0.1 1 typ host", "foundation \"f*o\""),
            ("1 1 udp 1 1.2.3.4 1 typ srflx raddr 10.0.0.1 rport", "extension \"rport\" has no value"),
            ("1 1 udp 1 1.2.3.4 1 typ srflx raddr 10.0.0.256 rport 9", "raddr/rport address \"10.0.0.256\""),
            ("1 1 u/p 1 1.2.3.4 1 typ host", "transport \"u/p\""),
        ]
        for (line, expected) in cases {
            let reason = parseError(line)
            #expect(reason?.contains(expected) == true, "\(line): \(reason ?? "parsed")")
        }
    }

    @Test func prioritiesAndFoundations() {
        #expect(ICECandidate.priority(type: .host) == 2_130_706_431)
        #expect(ICECandidate.priority(type: .serverReflexive, localPreference: 65535) == 1_694_498_815)
        #expect(ICECandidate.priority(type: .peerReflexive, localPreference: 65535) == 1_862_270_975)
        #expect(ICECandidate.priority(type: .relayed, localPreference: 0, component: 2) == 254)
        #expect(ICECandidate(foundation: "x", priority: 0x7E_FFFE_FF, address: .init(ip: "1.1.1.1", port: 1), type: .host)
            .localPreference == 0xFFFE)
        let host = ICECandidate.foundation(type: .host, baseIP: "10.0.0.1")
        #expect(host == ICECandidate.foundation(type: .host, baseIP: "10.0.0.1", transport: "UDP"))
        #expect(host != ICECandidate.foundation(type: .host, baseIP: "10.0.0.2"))
        #expect(host != ICECandidate.foundation(type: .serverReflexive, baseIP: "10.0.0.1", server: "192.0.2.1"))
        #expect(host.allSatisfy(ICECandidate.isICEChar) && (1...32).contains(host.count))
        // RFC 8445 §6.1.2.3, G = controlling, D = controlled.
        #expect(ICECandidatePair.priority(controlling: 10, controlled: 20) == 10 << 32 + 40)
        #expect(ICECandidatePair.priority(controlling: 20, controlled: 10) == 10 << 32 + 40 + 1)
    }
}
