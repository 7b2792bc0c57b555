import IPAddress
import Foundation
import Testing
@testable import Capture

@Suite struct PcapTests {
    let payload: [UInt8] = rtp(pt: 96, seq: 42, ts: 9000, payload: [9, 8, 7, 6, 5])
    var v4frame: [UInt8] { ipv4(v4a, v4b, udpHeader(5004, 6004, payload)) }
    var v6frame: [UInt8] { ipv6(v6a, v6b, udpHeader(5006, 6006, payload)) }
    let flow4 = UDPFlow(source: "10.0.0.1", sourcePort: 5004, destination: "192.168.1.20", destinationPort: 6004)
    let flow6 = UDPFlow(source: "2001:db8::1", sourcePort: 5006, destination: "::1", destinationPort: 6006)

    func readOne(_ bytes: [UInt8], _ name: String = "t.pcap") throws -> (PcapReader, [CapturedPacket], CaptureError?) {
        let dir = TempDir()
        let path = dir.write(name, bytes)
        let r = try PcapReader(path: path)
        let (p, e) = drain(r)
        return (r, p, e)
    }

    @Test func ethernetWithVLANTags() throws {
        let frames = [
            ethernet(type: 0x0800, v4frame),
            ethernet(type: 0x0800, vlans: [100], v4frame),
            ethernet(type: 0x0800, vlans: [100, 200], v4frame),
            ethernet(type: 0x86DD, vlans: [7], v6frame),
            ethernet(type: 0x0806, [UInt8](repeating: 0, count: 28)),  // ARP: skipped
            ethernet(type: 0x0800, ipv4(v4a, v4b, proto: 6, [UInt8](repeating: 0, count: 20))),  // TCP: skipped
            ethernet(type: 0x0800, v4frame + [0, 0, 0, 0]),  // Ethernet padding after the IP packet
        ]
        let recs = frames.enumerated().map { PcapRecord(sec: 1_700_000_000, frac: UInt32($0.offset * 10), data: $0.element) }
        let (r, got, err) = try readOne(pcapFile(linkType: 1, recs))
        #expect(err == nil)
        #expect(got.count == 5)
        #expect(got.allSatisfy { $0.data == payload })
        #expect(got.map(\.flow) == [flow4, flow4, flow4, flow6, flow4])
        #expect(got.map(\.arrivalMicros) == [0, 10, 20, 30, 60].map { 1_700_000_000_000_000 + Int64($0) })
        #expect(r.stats.nonUDP == 2)
        #expect(r.warnings.isEmpty)
    }

    @Test func ipv4OptionsAndFragments() throws {
        let withOpts = ipv4(v4a, v4b, options: [0x94, 0x04, 0, 0, 1, 1, 1, 0], udpHeader(5004, 6004, payload))
        let firstFrag = ipv4(v4a, v4b, fragment: 0x2000, udpHeader(5004, 6004, payload))  // MF
        let laterFrag = ipv4(v4a, v4b, fragment: 0x0010, Array(payload))  // offset 16*8
        let (r, got, _) = try readOne(pcapFile(linkType: 228, [
            PcapRecord(sec: 1, frac: 0, data: withOpts),
            PcapRecord(sec: 2, frac: 0, data: firstFrag),
            PcapRecord(sec: 3, frac: 0, data: laterFrag),
        ]))
        #expect(got.map(\.data) == [payload])
        #expect(r.stats.fragments == 2)
    }

    @Test func rawIPv4AndIPv6LinkTypes() throws {
        for lt: UInt32 in [101, 12, 14] {
            let (_, got, err) = try readOne(pcapFile(linkType: lt, [PcapRecord(sec: 5, frac: 1, data: v4frame), PcapRecord(sec: 5, frac: 2, data: v6frame)]))
            #expect(err == nil)
            #expect(got.map(\.flow) == [flow4, flow6], "link type \(lt)")
        }
        let (_, g228, _) = try readOne(pcapFile(linkType: 228, [PcapRecord(sec: 5, frac: 1, data: v4frame)]))
        #expect(g228.map(\.flow) == [flow4])
        let (_, g229, _) = try readOne(pcapFile(linkType: 229, [PcapRecord(sec: 5, frac: 1, data: v6frame)]))
        #expect(g229.map(\.flow) == [flow6])
        #expect(g229.first?.data == payload)
    }

    @Test func linuxCookedSLLAndSLL2() throws {
        let (_, g1, e1) = try readOne(pcapFile(linkType: 113, [
            PcapRecord(sec: 1, frac: 0, data: sll(proto: 0x0800, v4frame)),
            PcapRecord(sec: 1, frac: 1, data: sll(proto: 0x86DD, v6frame)),
            PcapRecord(sec: 1, frac: 2, data: sll(proto: 0x0806, [0, 1, 2])),
        ]))
        #expect(e1 == nil)
        #expect(g1.map(\.flow) == [flow4, flow6])
        let (_, g2, e2) = try readOne(pcapFile(linkType: 276, [
            PcapRecord(sec: 1, frac: 0, data: sll2(proto: 0x0800, v4frame)),
            PcapRecord(sec: 1, frac: 1, data: sll2(proto: 0x86DD, v6frame)),
        ]))
        #expect(e2 == nil)
        #expect(g2.map(\.flow) == [flow4, flow6])
        #expect(g2.allSatisfy { $0.data == payload })
    }

    @Test func nullLoopback() throws {
        var le: [UInt8] = []; le.le32(2)
        var be6: [UInt8] = []; be6.be32(30)
        let (_, got, _) = try readOne(pcapFile(linkType: 0, [
            PcapRecord(sec: 1, frac: 0, data: le + v4frame),
            PcapRecord(sec: 1, frac: 0, data: be6 + v6frame),
        ]))
        #expect(got.map(\.flow) == [flow4, flow6])
    }

    @Test func ipv6ExtensionHeaders() throws {
        let hbh: (UInt8, [UInt8]) = (0, [1, 4, 0, 0, 0, 0])      // hop-by-hop, PadN
        let dst: (UInt8, [UInt8]) = (60, [1, 4, 0, 0, 0, 0])     // destination options
        let routing: (UInt8, [UInt8]) = (43, [0, 0, 0, 0, 0, 0]) // routing type 0, segments left 0
        let chained = ipv6(v6a, v6b, ext: [hbh, routing, dst], udpHeader(5006, 6006, payload))
        let fragment = ipv6(v6a, v6b, ext: [(44, [0, 1, 0, 0, 0, 1])], udpHeader(5006, 6006, payload))
        let tcp = ipv6(v6a, v6b, last: 6, [UInt8](repeating: 0, count: 20))
        let (r, got, _) = try readOne(pcapFile(linkType: 229, [
            PcapRecord(sec: 1, frac: 0, data: chained),
            PcapRecord(sec: 1, frac: 0, data: fragment),
            PcapRecord(sec: 1, frac: 0, data: tcp),
        ]))
        #expect(got.map(\.flow) == [flow6])
        #expect(got.first?.data == payload)
        #expect(r.stats.fragments == 1)
        #expect(r.stats.nonUDP == 1)
    }

    @Test func nanosecondAndBigEndian() throws {
        for big in [false, true] {
            for nano in [false, true] {
                let frac: UInt32 = nano ? 123_456_789 : 123_456
                let (r, got, err) = try readOne(pcapFile(linkType: 1, big: big, nano: nano, [
                    PcapRecord(sec: 1_600_000_000, frac: frac, data: ethernet(type: 0x0800, v4frame)),
                ]))
                #expect(err == nil)
                #expect(r.isBigEndian == big)
                #expect(r.isNanosecond == nano)
                #expect(got.map(\.arrivalMicros) == [1_600_000_000_123_456], "big \(big) nano \(nano)")
                #expect(got.first?.data == payload)
            }
        }
    }

    @Test func snapLengthTruncatedPacketIsSkippedWithWarning() throws {
        let full = ethernet(type: 0x0800, v4frame)
        let cut = Array(full.prefix(full.count - 3))
        let (r, got, err) = try readOne(pcapFile(linkType: 1, snaplen: UInt32(cut.count), [
            PcapRecord(sec: 1, frac: 0, data: cut, origLen: UInt32(full.count)),
            PcapRecord(sec: 2, frac: 0, data: Array(full.prefix(20)), origLen: UInt32(full.count)),
        ]))
        #expect(err == nil)
        #expect(got.isEmpty)
        #expect(r.stats.damaged == 2)
        #expect(r.warnings.count == 2)
        #expect(r.warnings.allSatisfy { $0.reason.contains("cut short") })
    }

    @Test func writerRoundTripIPv4AndIPv6() throws {
        let dir = TempDir()
        let path = dir.file("rt.pcap")
        let w = try PcapWriter(path: path)
        var sent: [CapturedPacket] = []
        for i in 0..<100 {
            let f = i % 3 == 0 ? flow6 : flow4
            let p = rtp(pt: 96, seq: UInt16(i), ts: UInt32(i * 3000), payload: [UInt8](repeating: UInt8(i & 0xFF), count: i * 7 % 1200 + 1))
            let at: Int64 = 1_700_000_000_000_000 + Int64(i) * 33_337
            try w.write(p, flow: f, atMicros: at)
            sent.append(CapturedPacket(arrivalMicros: at, data: p, flow: f))
        }
        try w.flush()
        // Readable while the writer is still open (flushed).
        #expect(drain(try PcapReader(path: path)).packets.count == 100)
        try w.close()
        let r = try openCaptureReader(path: path)
        let (got, err) = drain(r)
        #expect(err == nil)
        #expect(got == sent)
        #expect(r.warnings.isEmpty)
    }

    @Test func ipv6AddressText() {
        #expect(IPAddressText.ipv6(v6a) == "2001:db8::1")
        #expect(IPAddressText.ipv6(v6b) == "::1")
        #expect(IPAddressText.ipv6([UInt8](repeating: 0, count: 16)) == "::")
        #expect(IPAddressText.ipv6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]) == "2001:db8:0:1::1")
        #expect(IPAddressText.ipv6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]) == "fe80::1:0:0:0")  // RFC 5952: first of equal runs
        for s in ["2001:db8::1", "::1", "::", "fe80::1:2", "1:2:3:4:5:6:7:8", "::ffff:10.1.2.3"] {
            #expect(IPAddressText.parseIPv6(s).map(IPAddressText.ipv6) == s)
        }
        #expect(IPAddressText.parseIPv6("1::2::3") == nil)
        #expect(IPAddressText.parseIPv4("256.1.1.1") == nil)
    }

    @Test func errors() throws {
        let dir = TempDir()
        let good = pcapFile(linkType: 1, [PcapRecord(sec: 1, frac: 0, data: ethernet(type: 0x0800, v4frame))])
        func expectError(_ name: String, _ bytes: [UInt8], _ contains: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let path = dir.write(name, bytes)
            var error: CaptureError?
            do { error = drain(try PcapReader(path: path)).error } catch let e { error = e }
            guard let error else { Issue.record("no error for \(name)", sourceLocation: sourceLocation); return }
            #expect(error.reason.contains(contains), "\(error)", sourceLocation: sourceLocation)
            expectNamesFileAndOffset(error.description, path, sourceLocation: sourceLocation)
        }
        expectError("magic.pcap", [0xDE, 0xAD] + good.dropFirst(2), "wrong magic")
        expectError("short.pcap", Array(good.prefix(10)), "too short")
        var lt = good; lt[20] = 0x99
        expectError("lt.pcap", lt, "unsupported link type")
        var huge = good; huge[24 + 8] = 0xFF; huge[24 + 9] = 0xFF; huge[24 + 10] = 0xFF; huge[24 + 11] = 0x7F
        expectError("huge.pcap", huge, "exceeds the snap length")
        let overSnap = pcapFile(linkType: 1, snaplen: 40, [PcapRecord(sec: 1, frac: 0, data: ethernet(type: 0x0800, v4frame))])
        expectError("oversnap.pcap", overSnap, "exceeds the snap length 40")
    }
}
