import SeededRandom
import Foundation
import Testing
@testable import Capture

/// Small valid files of every format, written by hand or by the writers.
func sampleFiles(_ dir: TempDir) throws -> [(name: String, bytes: [UInt8], packets: [[UInt8]])] {
    let pkts = (0..<4).map { rtp(seq: UInt16($0), ts: UInt32($0 * 960), payload: [UInt8](repeating: UInt8($0), count: 10 + $0)) }
    let flow = UDPFlow(source: "10.0.0.1", sourcePort: 1, destination: "10.0.0.2", destinationPort: 2)

    let mjrPath = dir.file("s.mjr")
    let mw = try MJRWriter(path: mjrPath, kind: .audio, codec: "opus", createdMicros: 1)
    for (i, p) in pkts.enumerated() { try mw.write(p, atMicros: 1000 + Int64(i) * 20_000) }
    try mw.close()

    let pcapPath = dir.file("s.pcap")
    let pw = try PcapWriter(path: pcapPath)
    for (i, p) in pkts.enumerated() { try pw.write(p, flow: flow, atMicros: Int64(i) * 20_000) }
    try pw.close()

    let rdPath = dir.file("s.rtpdump")
    let rw = try RTPDumpWriter(path: rdPath, source: "10.0.0.1", port: 1, startMicros: 0)
    for (i, p) in pkts.enumerated() { try rw.write(p, isRTCP: false, atMicros: Int64(i) * 20_000) }
    try rw.close()

    var ng = shb(big: true) + idb(linkType: 1, tsresol: 6, big: true)
    for (i, p) in pkts.enumerated() {
        ng += epb(iface: 0, ts: UInt64(i), ethernet(type: 0x0800, ipv4(v4a, v4b, udpHeader(1, 2, p))), big: true)
    }
    let legacy: [UInt8] = {
        var b = Array("MEETECHO".utf8); b.be16(5); b += Array("audio".utf8)
        for p in pkts { b += Array("MEETECHO".utf8); b.be16(UInt16(p.count)); b += p }
        return b
    }()
    return [
        ("s.mjr", readAll(mjrPath), pkts),
        ("legacy.mjr", legacy, pkts),
        ("s.pcap", readAll(pcapPath), pkts),
        ("s.pcapng", ng, pkts),
        ("s.rtpdump", readAll(rdPath), pkts),
    ]
}

/// Opens with the format's own reader (so wrong magic is an error, not a detection failure).
func openAs(_ name: String, _ path: String) throws(CaptureError) -> any PacketReader {
    if name.hasSuffix(".mjr") { return try MJRReader(path: path) }
    if name.hasSuffix(".pcapng") { return try PcapngReader(path: path) }
    if name.hasSuffix(".pcap") { return try PcapReader(path: path) }
    return try RTPDumpReader(path: path)
}

@Suite struct HostileTests {
    /// Every prefix of a valid file: an error at open, or a clean (possibly warned) end with a
    /// prefix of the packets. Never a crash, never a wrong packet.
    @Test func truncatedAtEveryOffset() throws {
        let dir = TempDir()
        for sample in try sampleFiles(dir) {
            var cleanEnds = 0, openErrors = 0
            for cut in 0..<sample.bytes.count {
                let path = dir.write("cut-\(cut)-" + sample.name, Array(sample.bytes.prefix(cut)))
                defer { unlink(path) }
                let r: any PacketReader
                do {
                    r = try openAs(sample.name, path)
                } catch {
                    openErrors += 1
                    expectNamesFileAndOffset(error.description, path)
                    continue
                }
                let (got, err) = drain(r, max: 100)
                if let err {
                    Issue.record("\(sample.name) cut at \(cut): unexpected error after open: \(err)")
                    continue
                }
                cleanEnds += 1
                #expect(got.count <= sample.packets.count)
                #expect(got.map(\.data) == Array(sample.packets.prefix(got.count)), "\(sample.name) cut at \(cut)")
                for w in r.warnings { expectNamesFileAndOffset(w.description, path) }
            }
            #expect(cleanEnds > 0 && openErrors > 0, "\(sample.name)")
            // The whole file reads fully.
            let full = dir.write("full-" + sample.name, sample.bytes)
            let (all, err) = drain(try openAs(sample.name, full))
            #expect(err == nil)
            #expect(all.map(\.data) == sample.packets, "\(sample.name)")
        }
    }

    /// Cutting inside the last record leaves all earlier packets and exactly one warning.
    @Test func cutInsideLastRecordWarnsOnce() throws {
        let dir = TempDir()
        for sample in try sampleFiles(dir) {
            let path = dir.write("last-" + sample.name, Array(sample.bytes.dropLast(3)))
            let r = try openAs(sample.name, path)
            let (got, err) = drain(r)
            #expect(err == nil, "\(sample.name)")
            #expect(got.map(\.data) == Array(sample.packets.dropLast()), "\(sample.name)")
            #expect(r.warnings.count == 1, "\(sample.name): \(r.warnings)")
            #expect(r.warnings.first?.reason.contains("truncated") == true)
        }
    }

    /// Random garbage after a valid magic, and random byte flips in valid files: bounded work,
    /// and every error names the file and an offset.
    @Test func randomGarbageAndMutations() throws {
        let dir = TempDir()
        var rng = SplitMix64(seed: 0xF10E_C0DE)
        let samples = try sampleFiles(dir)
        var errors = 0, runs = 0
        for sample in samples {
            for round in 0..<150 {
                var bytes: [UInt8]
                if round % 3 == 0 {
                    // Keep the header-ish prefix, then garbage.
                    let keep = min(sample.bytes.count, Int.random(in: 4...40, using: &rng))
                    bytes = Array(sample.bytes.prefix(keep))
                    for _ in 0..<Int.random(in: 0...600, using: &rng) { bytes.append(UInt8.random(in: 0...255, using: &rng)) }
                } else {
                    bytes = sample.bytes
                    for _ in 0..<Int.random(in: 1...6, using: &rng) {
                        let i = Int.random(in: 0..<bytes.count, using: &rng)
                        bytes[i] = UInt8.random(in: 0...255, using: &rng)
                    }
                }
                let path = dir.write("g-\(round)-" + sample.name, bytes)
                defer { unlink(path) }
                runs += 1
                do {
                    let r = try openAs(sample.name, path)
                    let (got, err) = drain(r, max: 10_000)
                    #expect(got.count <= bytes.count / 8 + 1)
                    if let err { errors += 1; expectNamesFileAndOffset(err.description, path) }
                    for w in r.warnings { expectNamesFileAndOffset(w.description, path) }
                } catch {
                    errors += 1
                    expectNamesFileAndOffset(error.description, path)
                }
            }
        }
        #expect(errors > 0 && errors < runs)
    }

    @Test func pureRandomFilesAreRejectedByDetection() throws {
        let dir = TempDir()
        var rng = SplitMix64(seed: 42)
        for i in 0..<100 {
            var b: [UInt8] = []
            for _ in 0..<Int.random(in: 0...300, using: &rng) { b.append(UInt8.random(in: 0...255, using: &rng)) }
            if b.count >= 1 && (b[0] == 0x4D || b[0] == 0x23 || b[0] == 0x0A || b[0] == 0xA1 || b[0] == 0xD4 || b[0] == 0x4D) { b[0] = 0 }
            let path = dir.write("r\(i).bin", b)
            do {
                _ = try openCaptureReader(path: path)
                Issue.record("random file \(i) was accepted")
            } catch {
                expectNamesFileAndOffset(error.description, path)
            }
        }
    }

    @Test func missingFileAndDirectory() {
        let dir = TempDir()
        #expect(throws: CaptureError.self) { try openCaptureReader(path: dir.file("nope.pcap")) }
        #expect(throws: CaptureError.self) { try PcapReader(path: dir.path) }
        do { _ = try MJRReader(path: dir.file("nope.mjr")) } catch {
            #expect(error.description.contains("nope.mjr: byte 0: cannot open"))
        }
    }
}

@Suite struct MemoryTests {
    /// A ~200 MB pcap written by PcapWriter, read back with a window that never grows.
    @Test func largePcapReadsWithBoundedBuffer() throws {
        let dir = TempDir()
        let path = dir.file("big.pcap")
        let target: Int64 = 200 * 1024 * 1024
        let clock = ContinuousClock()
        let t0 = clock.now
        let w = try PcapWriter(path: path)
        let flow = UDPFlow(source: "10.0.0.1", sourcePort: 1, destination: "10.0.0.2", destinationPort: 2)
        var written: Int64 = 24
        var n = 0
        var pkt = rtp(pt: 96, seq: 0, ts: 0, payload: [UInt8](repeating: 0xAB, count: 1188))
        while written < target {
            pkt[2] = UInt8((n >> 8) & 0xFF); pkt[3] = UInt8(n & 0xFF)
            try w.write(pkt, flow: flow, atMicros: 1_000_000 + Int64(n) * 1000)
            written += 16 + 42 + Int64(pkt.count)
            n += 1
            if n % 4096 == 0 && clock.now - t0 > .seconds(20) { break }
        }
        try w.close()
        let genTime = clock.now - t0
        let rss0 = residentKB()
        let r = try PcapReader(path: path)
        var count = 0
        var maxCap = 0
        let t1 = clock.now
        while let p = try r.next() {
            count += 1
            if count % 1024 == 0 { maxCap = max(maxCap, r.bufferCapacity) }
            #expect(p.data.count == 1200)
            if count % 8192 == 0 && clock.now - t1 > .seconds(25) { break }
        }
        let rss1 = residentKB()
        print("MemoryTests: \(written / 1_048_576) MB written in \(genTime), read \(count)/\(n) packets in \(clock.now - t1), RSS \(rss0) -> \(rss1) kB")
        #expect(count > 0)
        #expect(maxCap == ByteSource.chunkSize)
        #expect(r.bufferCapacity == ByteSource.chunkSize)
        if rss0 > 0 && rss1 > 0 {
            // Reading 200 MB must not grow the process by anything near the file size.
            #expect(rss1 - rss0 < 64 * 1024)
        }
    }
}

func residentKB() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in s.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
    return 0
}
