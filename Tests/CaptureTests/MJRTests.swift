import Foundation
import Testing
@testable import Capture

/// Minimal VP8 keyframe payload: descriptor (S=1, PID 0) + 10-byte keyframe header (640x480) + filler.
func vp8Payload(key: Bool, start: Bool = true) -> [UInt8] {
    var p: [UInt8] = [start ? 0x10 : 0x00]
    if start {
        p += key ? [0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01] : [0x11, 0x02, 0x00]
    }
    return p + [UInt8](repeating: 0x55, count: 40)
}

@Suite struct MJRTests {
    let created: Int64 = 1_700_000_000_000_000

    func writeOpus(_ dir: TempDir, count: Int = 50) throws -> (String, [(Int64, [UInt8])]) {
        let path = dir.file("audio.mjr")
        let w = try MJRWriter(path: path, kind: .audio, codec: "opus", createdMicros: created,
                              extensions: [1: "urn:ietf:params:rtp-hdrext:ssrc-audio-level"])
        var sent: [(Int64, [UInt8])] = []
        for i in 0..<count {
            let pkt = rtp(pt: 111, seq: UInt16(1000 + i), ts: UInt32(960 * i), payload: [0xF8, 0xFF, 0xFE] + [UInt8](repeating: UInt8(i), count: 20))
            let at = created + 250_000 + Int64(i) * 20_000 + 137  // sub-ms part is lost by the format
            try w.write(pkt, atMicros: at)
            sent.append((at, pkt))
        }
        try w.close()
        return (path, sent)
    }

    @Test func roundTripAudio() throws {
        let dir = TempDir()
        let (path, sent) = try writeOpus(dir)
        let r = try MJRReader(path: path)
        #expect(r.header.kind == .audio)
        #expect(r.header.codec == "opus")
        #expect(r.header.createdMicros == created)
        #expect(r.header.firstPacketMicros == sent[0].0)
        #expect(r.header.extensions == [1: "urn:ietf:params:rtp-hdrext:ssrc-audio-level"])
        #expect(!r.header.isLegacy)
        #expect(r.header.rawJSON.hasPrefix("{\"t\":\"a\""))
        let (got, err) = drain(r)
        #expect(err == nil)
        #expect(got.count == sent.count)
        for (g, s) in zip(got, sent) {
            #expect(g.data == s.1)
            #expect(g.flow == nil)
            // ms precision relative to the first packet
            #expect(abs(g.arrivalMicros - s.0) < 1000)
            #expect((g.arrivalMicros - sent[0].0) % 1000 == 0)
        }
        #expect(r.warnings.isEmpty)
    }

    @Test func detectAndOpenByMagic() throws {
        let dir = TempDir()
        let (path, _) = try writeOpus(dir, count: 3)
        let renamed = dir.file("looks-like.pcap")
        try FileManager.default.moveItem(atPath: path, toPath: renamed)
        #expect(try CaptureFormat.detect(path: renamed) == .mjr)
        let r = try openCaptureReader(path: renamed)
        #expect(r is MJRReader)
        #expect(drain(r).packets.count == 3)
    }

    @Test func emptyTrackIsNotAnError() throws {
        let dir = TempDir()
        let path = dir.write("empty.mjr", Array("MJR00002".utf8))
        let r = try MJRReader(path: path)
        #expect(r.header.kind == .unknown)
        #expect(r.header.isEmptyTrack)
        #expect(try r.next() == nil)
        #expect(r.warnings.isEmpty)
        // A writer that never got a packet leaves exactly this file.
        let p2 = dir.file("never.mjr")
        let w = try MJRWriter(path: p2, kind: .video, codec: "vp8", createdMicros: created)
        try w.close()
        #expect(readAll(p2) == Array("MJR00002".utf8))
        #expect(try openCaptureReader(path: p2).next() == nil)
    }

    @Test func dataTrackUsesEmbeddedTime() throws {
        let dir = TempDir()
        let path = dir.file("data.mjr")
        let w = try MJRWriter(path: path, kind: .data, codec: "text", createdMicros: created)
        try w.write(Array("hello".utf8), atMicros: created + 1_234_567)
        try w.write(Array("world".utf8), atMicros: created + 2_000_001)
        try w.close()
        let r = try MJRReader(path: path)
        #expect(r.header.kind == .data)
        let got = drain(r).packets
        #expect(got.map(\.data) == [Array("hello".utf8), Array("world".utf8)])
        #expect(got.map(\.arrivalMicros) == [created + 1_234_567, created + 2_000_001])
    }

    @Test func handBuiltFrameTimesAreMillisecondsSinceU() throws {
        let dir = TempDir()
        let json = Array(#"{"t":"v","c":"VP8","s":1000000,"u":2000000,"x":{"3":"urn:x"},"f":"a=b"}"#.utf8)
        var b = Array("MJR00002".utf8)
        b.be16(UInt16(json.count)); b += json
        let p1 = rtp(pt: 96, seq: 1, ts: 0, payload: vp8Payload(key: true))
        b += Array("MEET".utf8); b.be32(0); b.be16(UInt16(p1.count)); b += p1
        b += Array("MEET".utf8); b.be32(1500); b.be16(4); b += [1, 2, 3, 4]  // too short for RTP: skipped
        b += Array("MEET".utf8); b.be32(2500); b.be16(UInt16(p1.count)); b += p1
        let path = dir.write("hand.mjr", b)
        let r = try MJRReader(path: path)
        #expect(r.header.codec == "vp8")
        #expect(r.header.kind == .video)
        #expect(r.header.fmtp == "a=b")
        #expect(r.header.extensions == [3: "urn:x"])
        let got = drain(r).packets
        #expect(got.map(\.arrivalMicros) == [2_000_000, 4_500_000])
        #expect(r.skippedFrames == 1)
    }

    @Test func legacyMeetechoFormat() throws {
        let dir = TempDir()
        var b = Array("MEETECHO".utf8)
        b.be16(5); b += Array("video".utf8)
        let p = rtp(pt: 100, seq: 7, ts: 90000, payload: vp8Payload(key: true))
        for _ in 0..<3 { b += Array("MEETECHO".utf8); b.be16(UInt16(p.count)); b += p }
        let path = dir.write("old.mjr", b)
        #expect(try CaptureFormat.detect(path: path) == .mjr)
        let r = try MJRReader(path: path)
        #expect(r.header.isLegacy)
        #expect(r.header.kind == .video)
        #expect(r.header.codec == "vp8")
        let got = drain(r)
        #expect(got.error == nil)
        #expect(got.packets.count == 3)
        #expect(got.packets.allSatisfy { $0.data == p && $0.arrivalMicros == 0 })
    }

    @Test func legacyJSONHeaderWithoutTimes() throws {
        let dir = TempDir()
        let json = Array(#"{"t":"a","c":"opus","s":5000000}"#.utf8)
        var b = Array("MJR00001".utf8)
        b.be16(UInt16(json.count)); b += json
        let p = rtp(seq: 1, ts: 0, payload: [1, 2, 3])
        b += Array("MEETECHO".utf8); b.be16(UInt16(p.count)); b += p
        let path = dir.write("v1.mjr", b)
        let r = try MJRReader(path: path)
        #expect(r.header.isLegacy)
        #expect(r.header.createdMicros == 5_000_000)
        let got = drain(r).packets
        #expect(got.count == 1)
        #expect(got.first?.arrivalMicros == 5_000_000)
    }

    @Test func errors() throws {
        let dir = TempDir()
        func expectError(_ name: String, _ bytes: [UInt8], contains: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let path = dir.write(name, bytes)
            do {
                let r = try MJRReader(path: path)
                let (_, err) = drain(r)
                guard let err else {
                    Issue.record("expected an error for \(name)", sourceLocation: sourceLocation)
                    return
                }
                #expect(err.reason.contains(contains), "\(err)", sourceLocation: sourceLocation)
                expectNamesFileAndOffset(err.description, path, sourceLocation: sourceLocation)
            } catch {
                #expect(error.reason.contains(contains), "\(error)", sourceLocation: sourceLocation)
                expectNamesFileAndOffset(error.description, path, sourceLocation: sourceLocation)
            }
        }
        expectError("magic.mjr", Array("MJX00002xx".utf8), contains: "wrong magic")
        expectError("short.mjr", Array("MJR0".utf8), contains: "too short")
        var hdrPast = Array("MJR00002".utf8); hdrPast.be16(500); hdrPast += Array("{}".utf8)
        expectError("hdrpast.mjr", hdrPast, contains: "runs past the end")
        let bad = Array(#"{"t":"a","c":"opus","s":1,"u":2"#.utf8)
        var badJSON = Array("MJR00002".utf8); badJSON.be16(UInt16(bad.count)); badJSON += bad
        expectError("badjson.mjr", badJSON, contains: "bad JSON")
        let noType = Array(#"{"c":"opus","s":1,"u":2}"#.utf8)
        var nt = Array("MJR00002".utf8); nt.be16(UInt16(noType.count)); nt += noType
        expectError("notype.mjr", nt, contains: "track type")
        let good = Array(#"{"t":"a","c":"opus","s":1,"u":2}"#.utf8)
        var base = Array("MJR00002".utf8); base.be16(UInt16(good.count)); base += good
        var zero = base; zero += Array("MEET".utf8); zero.be32(0); zero.be16(0)
        expectError("zero.mjr", zero, contains: "frame length 0")
        var huge = base; huge += Array("MEET".utf8); huge.be32(0); huge.be16(65000); huge += [1, 2, 3]
        expectError("huge.mjr", huge, contains: "frame length 65000 runs past the end of the file")
        var garbage = base; garbage += Array("GARBAGE!GARBAGE!".utf8)
        expectError("garbage.mjr", garbage, contains: "expected frame marker")
    }

    @Test func truncatedLastFrameKeepsEverythingBefore() throws {
        let dir = TempDir()
        let (path, sent) = try writeOpus(dir, count: 5)
        let full = readAll(path)
        let cut = dir.write("cut.mjr", Array(full.dropLast(7)))
        let r = try MJRReader(path: cut)
        let (got, err) = drain(r)
        #expect(err == nil)
        #expect(got.map(\.data) == sent.prefix(4).map(\.1))
        #expect(r.warnings.count == 1)
        if let w = r.warnings.first {
            #expect(w.reason.contains("truncated"))
            expectNamesFileAndOffset(w.description, cut)
        }
    }

    @Test func janusPPRecParsesWriterOutput() throws {
        guard let tool = which("janus-pp-rec") else {
            print("SKIPPED: janus-pp-rec not installed (apt install janus-tools)")
            return
        }
        let dir = TempDir()
        let (audio, sent) = try writeOpus(dir, count: 50)
        let (st, out) = try run(tool, ["-p", audio])
        #expect(st == 0, "\(out)")
        #expect(out.contains("Counted \(sent.count) RTP packets"), "\(out)")
        #expect(out.contains("Counted \(sent.count) frame packets"), "\(out)")
        let (jst, jout) = try run(tool, ["-j", audio])
        #expect(jst == 0)
        #expect(jout.contains("\"c\":\"opus\""), "\(jout)")
        #expect(jout.contains("\"u\":\(created + 250_137)"), "\(jout)")

        // Video: VP8 keyframes/delta frames, one packet per frame.
        let vpath = dir.file("video.mjr")
        let w = try MJRWriter(path: vpath, kind: .video, codec: "vp8", createdMicros: created)
        let frames = 30
        for i in 0..<frames {
            let p = rtp(pt: 96, seq: UInt16(i), ts: UInt32(3000 * i), marker: true, payload: vp8Payload(key: i % 10 == 0))
            try w.write(p, atMicros: created + Int64(i) * 33_333)
        }
        try w.flush(sync: true)
        try w.close()
        let (vst, vout) = try run(tool, ["-p", vpath])
        #expect(vst == 0, "\(vout)")
        #expect(vout.contains("Counted \(frames) RTP packets"), "\(vout)")
        #expect(vout.contains("Counted \(frames) frame packets"), "\(vout)")
        // And a real conversion to .webm succeeds.
        let (cst, cout) = try run(tool, [vpath, dir.file("video.webm")])
        #expect(cst == 0, "\(cout)")
    }

    /// Real tools: janus' own mjr2pcap output must read back through PcapReader, and pcap2mjr
    /// must accept PcapWriter output and produce an .mjr our reader reads.
    @Test func janusMjr2pcapAndPcap2mjr() throws {
        guard let m2p = which("mjr2pcap"), let p2m = which("pcap2mjr") else {
            print("SKIPPED: mjr2pcap/pcap2mjr not installed")
            return
        }
        let dir = TempDir()
        let (mjr, sent) = try writeOpus(dir, count: 20)
        let pcap = dir.file("from-janus.pcap")
        let (st, out) = try run(m2p, [mjr, pcap])
        #expect(st == 0, "\(out)")
        let r = try openCaptureReader(path: pcap)
        #expect(r is PcapReader)
        let (got, err) = drain(r)
        #expect(err == nil)
        #expect(got.map(\.data) == sent.map(\.1))

        // PcapWriter -> pcap2mjr -> MJRReader
        let ours = dir.file("ours.pcap")
        let pw = try PcapWriter(path: ours)
        let flow = UDPFlow(source: "10.0.0.1", sourcePort: 5000, destination: "10.0.0.2", destinationPort: 6000)
        for (at, p) in sent { try pw.write(p, flow: flow, atMicros: at) }
        try pw.close()
        let back = dir.file("back.mjr")
        let (st2, out2) = try run(p2m, ["-c", "opus", ours, back])
        #expect(st2 == 0, "\(out2)")
        let mr = try MJRReader(path: back)
        #expect(mr.header.codec == "opus")
        #expect(drain(mr).packets.map(\.data) == sent.map(\.1))
    }
}
