import Foundation
import Testing
@testable import Capture

/// Extreme numbers in every format's header and record fields (issue 12, item 5): a clear error
/// naming file and offset, or packets whose times are all in ``CaptureTime/range``; never a trap.
@Suite struct ExtremeHeaderTests {
    static let packet = rtp(seq: 1, ts: 960, payload: [UInt8](repeating: 7, count: 20))
    static var frame: [UInt8] { ethernet(type: 0x0800, ipv4(v4a, v4b, udpHeader(1, 2, packet))) }

    /// Opens and drains `bytes` as `name`: an error names the file, a packet's time is in range.
    static func check(_ dir: TempDir, _ name: String, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> (packets: Int, error: CaptureError?) {
        let path = dir.write(name, bytes)
        let reader: any PacketReader
        do {
            reader = try openAs(name, path)
        } catch {
            expectNamesFileAndOffset(error.description, path, sourceLocation: sourceLocation)
            return (0, error)
        }
        let (packets, error) = drain(reader)
        for p in packets { #expect(CaptureTime.range.contains(p.arrivalMicros), "\(name): \(p.arrivalMicros)", sourceLocation: sourceLocation) }
        if let error { expectNamesFileAndOffset(error.description, path, sourceLocation: sourceLocation) }
        return (packets.count, error)
    }

    static func mjr(_ json: String, frames: [(ms: UInt32, data: [UInt8])] = [(0, packet), (20, packet), (UInt32.max, packet)]) -> [UInt8] {
        var b = Array("MJR00002".utf8)
        b.be16(UInt16(json.utf8.count)); b += Array(json.utf8)
        for f in frames { b += Array("MEET".utf8); b.be32(f.ms); b.be16(UInt16(f.data.count)); b += f.data }
        return b
    }

    static let extremes = ["9223372036854775807", "-9223372036854775808", "-1", "99999999999999999999999", "1e300", "5000000000000001"]

    @Test func mjrTimeFields() {
        let dir = TempDir()
        for value in Self.extremes {
            for json in ["{\"t\":\"a\",\"c\":\"opus\",\"s\":1,\"u\":\(value)}", "{\"t\":\"a\",\"c\":\"opus\",\"s\":\(value),\"u\":1}"] {
                let (packets, error) = Self.check(dir, "x.mjr", Self.mjr(json))
                #expect(packets == 0 && error?.reason.contains("out of range") == true, "\(json): \(String(describing: error))")
            }
        }
        // The largest accepted `u` with the largest frame time stays in range.
        let top = Self.check(dir, "top.mjr", Self.mjr("{\"t\":\"a\",\"c\":\"opus\",\"s\":0,\"u\":\(CaptureTime.maxMicros - 5_000_000_000_000)}"))
        #expect(top.packets == 3 && top.error == nil)
        // Data frames carry their own 64-bit time: out of range ones are skipped with a warning.
        var stamp: [UInt8] = []
        stamp.be32(0x8000_0000); stamp.be32(0)
        let data = Self.mjr("{\"t\":\"d\",\"c\":\"text\",\"s\":1,\"u\":1}", frames: [(0, stamp + [1, 2, 3])])
        let path = dir.write("d.mjr", data)
        let reader = try? MJRReader(path: path)
        #expect(reader.map { drain($0).packets.isEmpty } == true)
        #expect(reader?.warnings.contains { $0.reason.contains("out of range") } == true)
    }

    @Test func pcapFields() {
        let dir = TempDir()
        for big in [false, true] {
            for nano in [false, true] {
                for snaplen in [0, 1, UInt32.max] {
                    let recs = [PcapRecord(sec: UInt32.max, frac: UInt32.max, data: Self.frame),
                                PcapRecord(sec: UInt32.max, frac: 999, data: Self.frame, origLen: UInt32.max),
                                PcapRecord(sec: 0, frac: 0, data: Self.frame)]
                    _ = Self.check(dir, "x.pcap", pcapFile(linkType: 1, big: big, nano: nano, snaplen: snaplen, recs))
                }
                // A captured length of 2^32 - 1: an error naming the offset.
                var bytes = pcapFile(linkType: 1, big: big, nano: nano, [PcapRecord(sec: 1, frac: 0, data: Self.frame)])
                for i in 32..<36 { bytes[i] = 0xFF }
                #expect(Self.check(dir, "y.pcap", bytes).error != nil)
            }
        }
        let skipped = Self.check(dir, "frac.pcap", pcapFile(linkType: 1, [PcapRecord(sec: 1, frac: 1_000_000, data: Self.frame)]))
        #expect(skipped.packets == 0 && skipped.error == nil)
    }

    @Test func pcapngFields() {
        let dir = TempDir()
        for big in [false, true] {
            for offset in [Int64.max, Int64.min, -1, 5_000_000_001] {
                let bytes = shb(big: big) + idb(linkType: 1, tsoffset: offset, big: big) + epb(iface: 0, ts: 1, Self.frame, big: big)
                let (packets, error) = Self.check(dir, "o.pcapng", bytes)
                #expect(offset == -1 ? packets == 0 : error?.reason.contains("if_tsoffset") == true, "offset \(offset): \(String(describing: error))")
            }
            for resolution: UInt8 in [0, 6, 9, 18, 0x80 | 62, 0x80] {
                for ts in [UInt64.max, UInt64(Int64.max), 1 << 63, 0] {
                    let bytes = shb(big: big) + idb(linkType: 1, snaplen: UInt32.max, tsresol: resolution, big: big)
                        + epb(iface: 0, ts: ts, Self.frame, origLen: UInt32.max, big: big) + spb(Self.frame, big: big)
                    _ = Self.check(dir, "t.pcapng", bytes)
                }
            }
        }
    }

    @Test func rtpdumpFields() {
        let dir = TempDir()
        for (sec, usec) in [(UInt32.max, UInt32(999_999)), (UInt32.max, UInt32.max), (0, 0)] {
            var b = Array("#!rtpplay1.0 10.0.0.1/5004\n".utf8)
            b.be32(sec); b.be32(usec); b += [10, 0, 0, 1]; b.be16(5004); b.be16(0)
            for offset in [UInt32.max, 0] {
                b.be16(UInt16(Self.packet.count + 8)); b.be16(UInt16(Self.packet.count)); b.be32(offset); b += Self.packet
            }
            b.be16(UInt16.max); b.be16(UInt16.max); b.be32(UInt32.max)
            let (packets, error) = Self.check(dir, "x.rtpdump", b)
            #expect(usec == UInt32.max ? error != nil : packets == 2, "\(sec).\(usec): \(packets) \(String(describing: error))")
        }
    }
}
