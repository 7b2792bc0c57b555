import Foundation
import Testing
@testable import Capture

@Suite struct PcapngTests {
    let payload: [UInt8] = rtp(pt: 111, seq: 9, ts: 960, payload: [1, 2, 3, 4, 5, 6])
    var eth4: [UInt8] { ethernet(type: 0x0800, ipv4(v4a, v4b, udpHeader(4000, 4001, payload))) }
    var raw6: [UInt8] { ipv6(v6a, v6b, udpHeader(4002, 4003, payload)) }
    let flow4 = UDPFlow(source: "10.0.0.1", sourcePort: 4000, destination: "192.168.1.20", destinationPort: 4001)
    let flow6 = UDPFlow(source: "2001:db8::1", sourcePort: 4002, destination: "::1", destinationPort: 4003)

    @Test(arguments: [false, true])
    func twoInterfacesWithTsresol(big: Bool) throws {
        let dir = TempDir()
        // if0: Ethernet, default µs. if1: raw IP, ns (tsresol 9). if2: SLL2, 2^-10 s.
        var b = shb(big: big)
        b += idb(linkType: 1, snaplen: 65535, big: big)
        b += idb(linkType: 101, snaplen: 0, tsresol: 9, big: big)
        b += idb(linkType: 276, tsresol: 0x80 | 10, big: big)
        b += block(0x0000_0BAD, [1, 2, 3, 4, 5], big: big)  // custom block: skipped
        b += block(5, [0, 0, 0, 0, 1, 1, 1, 1], big: big)   // interface statistics: skipped
        b += epb(iface: 0, ts: 1_700_000_000_123_456, eth4, big: big)
        b += epb(iface: 1, ts: 1_700_000_000_987_654_321, raw6, big: big)
        b += epb(iface: 2, ts: 1_700_000_000 * 1024 + 512, sll2(proto: 0x0800, ipv4(v4a, v4b, udpHeader(4000, 4001, payload))), big: big)
        let path = dir.write("two.pcapng", b)
        #expect(try CaptureFormat.detect(path: path) == .pcapng)
        let r = try openCaptureReader(path: path)
        let (got, err) = drain(r)
        #expect(err == nil)
        #expect(got.map(\.flow) == [flow4, flow6, flow4])
        #expect(got.map(\.arrivalMicros) == [1_700_000_000_123_456, 1_700_000_000_987_654, 1_700_000_000_500_000])
        #expect(got.allSatisfy { $0.data == payload })
        #expect(r.warnings.isEmpty)
    }

    @Test func multipleSectionsWithDifferentByteOrders() throws {
        let dir = TempDir()
        var b = shb(big: false) + idb(linkType: 228, big: false)
        b += epb(iface: 0, ts: 1_000_000, ipv4(v4a, v4b, udpHeader(4000, 4001, payload)), big: false)
        // New section, big-endian, its own interfaces (ids restart at 0), with if_tsoffset.
        b += shb(big: true) + idb(linkType: 229, tsresol: 3, tsoffset: 1_000, big: true)
        b += epb(iface: 0, ts: 2_500, raw6, big: true)
        let path = dir.write("sections.pcapng", b)
        let r = try PcapngReader(path: path)
        let (got, err) = drain(r)
        #expect(err == nil)
        #expect(r.sectionCount == 2)
        #expect(got.map(\.flow) == [flow4, flow6])
        #expect(got.map(\.arrivalMicros) == [1_000_000, 1_002_500_000])
    }

    @Test func simplePacketBlocksAndObsoletePacketBlock() throws {
        let dir = TempDir()
        var b = shb(big: false) + idb(linkType: 1, big: false)
        b += epb(iface: 0, ts: 5_000_000, eth4, big: false)
        b += spb(eth4, big: false)
        var pb: [UInt8] = []
        pb.le16(0); pb.le16(0); pb.le32(0); pb.le32(7_000_000); pb.le32(UInt32(eth4.count)); pb.le32(UInt32(eth4.count))
        b += block(2, pb + eth4, big: false)
        let path = dir.write("spb.pcapng", b)
        let r = try PcapngReader(path: path)
        let (got, err) = drain(r)
        #expect(err == nil)
        #expect(got.map(\.arrivalMicros) == [5_000_000, 5_000_000, 7_000_000])
        #expect(got.allSatisfy { $0.data == payload })
        #expect(r.warnings.count == 1)  // SPB has no timestamp
    }

    @Test func unsupportedLinkTypeInterfaceIsSkippedWithOneWarning() throws {
        let dir = TempDir()
        var b = shb(big: false) + idb(linkType: 147, big: false) + idb(linkType: 1, big: false)
        b += epb(iface: 0, ts: 1, [1, 2, 3, 4], big: false)
        b += epb(iface: 0, ts: 2, [1, 2, 3, 4], big: false)
        b += epb(iface: 1, ts: 3, eth4, big: false)
        let r = try PcapngReader(path: dir.write("lt.pcapng", b))
        let (got, _) = drain(r)
        #expect(got.count == 1)
        #expect(r.warnings.count == 1)
        #expect(r.stats.nonUDP == 2)
    }

    @Test func errors() throws {
        let dir = TempDir()
        func expectError(_ name: String, _ bytes: [UInt8], _ contains: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let path = dir.write(name, bytes)
            var error: CaptureError?
            do { error = drain(try PcapngReader(path: path)).error } catch let e { error = e }
            guard let error else { Issue.record("no error for \(name)", sourceLocation: sourceLocation); return }
            #expect(error.reason.contains(contains), "\(error)", sourceLocation: sourceLocation)
            expectNamesFileAndOffset(error.description, path, sourceLocation: sourceLocation)
        }
        let head = shb(big: false) + idb(linkType: 1, big: false)
        expectError("magic.pcapng", [0, 0, 0, 0] + head.dropFirst(4), "wrong magic")
        var bom = head; bom[8] = 0x11
        expectError("bom.pcapng", bom, "byte-order magic")
        var zero: [UInt8] = []; zero.le32(6); zero.le32(0)
        expectError("zero.pcapng", head + zero + [UInt8](repeating: 0, count: 16), "block length 0")
        var hugeBlock: [UInt8] = []; hugeBlock.le32(6); hugeBlock.le32(0x7FFF_FFF0)
        expectError("huge.pcapng", head + hugeBlock + [UInt8](repeating: 0, count: 64), "too large")
        var trailer = head + epb(iface: 0, ts: 1, eth4, big: false)
        trailer[trailer.count - 1] = 0x55
        expectError("trailer.pcapng", trailer, "trailer length")
        expectError("iface.pcapng", head + epb(iface: 3, ts: 1, eth4, big: false), "undefined interface 3")
        var capPast = epb(iface: 0, ts: 1, eth4, big: false)
        capPast[20] = 0xF0; capPast[21] = 0x0F  // caplen 4080 > block
        expectError("cappast.pcapng", head + capPast, "runs past the end of its block")
        let snap = shb(big: false) + idb(linkType: 1, snaplen: 20, big: false) + epb(iface: 0, ts: 1, eth4, big: false)
        expectError("snap.pcapng", snap, "snap length 20")
    }
}

@Suite struct RTPDumpTests {
    @Test func roundTrip() throws {
        let dir = TempDir()
        let path = dir.file("call.rtpdump")
        let start: Int64 = 1_700_000_000_250_000
        let w = try RTPDumpWriter(path: path, source: "10.1.2.3", port: 5004, startMicros: start)
        var sent: [(Int64, [UInt8], Bool)] = []
        for i in 0..<40 {
            let isRTCP = i % 10 == 9
            let p = isRTCP ? [0x80, 200, 0, 6] + [UInt8](repeating: 1, count: 24)
                           : rtp(seq: UInt16(i), ts: UInt32(i * 960), payload: [UInt8](repeating: 3, count: 50 + i))
            let at = start + Int64(i) * 20_000 + 999
            try w.write(p, isRTCP: isRTCP, atMicros: at)
            sent.append((at, p, isRTCP))
        }
        try w.close()
        #expect(try CaptureFormat.detect(path: path) == .rtpdump)
        let r = try RTPDumpReader(path: path)
        #expect(r.startMicros == start)
        #expect(r.lineAddress == "10.1.2.3" && r.linePort == 5004)
        var got: [CapturedPacket] = []
        var rtcp: [Bool] = []
        while let p = try r.next() { got.append(p); rtcp.append(r.lastWasRTCP) }
        #expect(got.map(\.data) == sent.map(\.1))
        #expect(rtcp == sent.map(\.2))
        // ms precision
        #expect(zip(got, sent).allSatisfy { $0.arrivalMicros == $1.0 - 999 })
        #expect(got.first?.flow == UDPFlow(source: "10.1.2.3", sourcePort: 5004, destination: "10.1.2.3", destinationPort: 5004))
    }

    @Test func handBuiltWiresharkStyle() throws {
        let dir = TempDir()
        var b = Array("#!rtpplay1.0 192.168.0.7/40000\n".utf8)
        b.be32(1_600_000_000); b.be32(500_000); b += [192, 168, 0, 7]; b.be16(40000); b.be16(0)
        let p = rtp(pt: 0, seq: 1, ts: 160, payload: [UInt8](repeating: 0xFF, count: 160))
        b.be16(UInt16(p.count + 8)); b.be16(UInt16(p.count)); b.be32(1234); b += p
        let r = try openCaptureReader(path: dir.write("ws.rtpdump", b))
        let got = drain(r)
        #expect(got.error == nil)
        #expect(got.packets.map(\.arrivalMicros) == [1_600_000_001_734_000])
        #expect(got.packets.first?.data == p)
    }

    @Test func errors() throws {
        let dir = TempDir()
        var head = Array("#!rtpplay1.0 10.0.0.1/5000\n".utf8)
        head.be32(1); head.be32(0); head += [10, 0, 0, 1]; head.be16(5000); head.be16(0)
        func expectError(_ name: String, _ bytes: [UInt8], _ contains: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let path = dir.write(name, bytes)
            var error: CaptureError?
            do { error = drain(try RTPDumpReader(path: path)).error } catch let e { error = e }
            guard let error else { Issue.record("no error for \(name)", sourceLocation: sourceLocation); return }
            #expect(error.reason.contains(contains), "\(error)", sourceLocation: sourceLocation)
            expectNamesFileAndOffset(error.description, path, sourceLocation: sourceLocation)
        }
        expectError("magic.rtpdump", Array("#!rtpplay2.0 x/1\n".utf8) + head.suffix(16), "wrong magic")
        expectError("noline.rtpdump", Array("#!rtpplay1.0 10.0.0.1/5000".utf8), "file ends inside")
        expectError("longline.rtpdump", Array("#!rtpplay1.0 ".utf8) + [UInt8](repeating: 0x41, count: 2000), "longer than")
        expectError("badport.rtpdump", Array("#!rtpplay1.0 10.0.0.1/99999\n".utf8) + head.suffix(16), "bad address/port")
        expectError("shorthdr.rtpdump", Array(head.prefix(head.count - 3)), "too short")
        var zero = head; zero.be16(0); zero.be16(0); zero.be32(0)
        expectError("zero.rtpdump", zero, "record length 0")
        var seven = head; seven.be16(7); seven.be16(0); seven.be32(0)
        expectError("seven.rtpdump", seven, "record length 7")
    }

    @Test func lengthPastEndIsTruncationWarning() throws {
        let dir = TempDir()
        var b = Array("#!rtpplay1.0 10.0.0.1/5000\n".utf8)
        b.be32(1); b.be32(0); b += [10, 0, 0, 1]; b.be16(5000); b.be16(0)
        let p = rtp(seq: 1, ts: 0, payload: [1, 2, 3])
        b.be16(UInt16(p.count + 8)); b.be16(UInt16(p.count)); b.be32(0); b += p
        b.be16(60000); b.be16(59992); b.be32(5); b += [1, 2, 3]
        let path = dir.write("past.rtpdump", b)
        let r = try RTPDumpReader(path: path)
        let (got, err) = drain(r)
        #expect(err == nil)
        #expect(got.map(\.data) == [p])
        #expect(r.warnings.count == 1)
        expectNamesFileAndOffset(r.warnings[0].description, path)
    }
}
