import Testing
import RTP
@testable import Media

@Suite(.enabled(if: x264Available, "needs libavcodec's libx264 encoder"))
struct H264DepacketizerTests {
    /// Packetizes every access unit (marker on the last payload) into RTP packets.
    func packets(_ aus: [TestAU], maxPayloadSize: Int) -> (packets: [SentPacket], payloadTypes: [UInt8]) {
        let packetizer = H264Packetizer(maxPayloadSize: maxPayloadSize)
        let payloads = aus.map { packetizer.payloads(forAnnexB: $0.data) }
        for p in payloads.joined() { #expect(p.count <= maxPayloadSize) }
        return (rtpPackets(payloads), payloads.joined().map(payloadType))
    }

    func depacketize(_ sent: [SentPacket], drop: Set<Int> = [], seed: UInt64 = 1) -> (frames: [EncodedFrame], dep: H264Depacketizer) {
        var dep = H264Depacketizer()
        let frames = transport(sent, into: &dep, drop: drop, seed: seed)
        return (frames, dep)
    }

    /// Index of the access unit each frame came from (timestamps step by 3000 from 0xFFFF_0000, unwrapped).
    func indices(_ frames: [EncodedFrame]) -> [Int] {
        frames.map { Int(($0.rtpTimestamp - Int64(0xFFFF_0000)) / 3000) }
    }

    @Test(arguments: [1, 4])
    func roundTripIsByteIdentical(slices: Int) throws {
        let aus = makeH264Stream(slices: slices)
        #expect(aus.count == 60)
        #expect(aus.enumerated().filter(\.element.isIDR).map(\.offset) == [0, 30])
        #expect(aus[0].nalTypes.prefix(2) == [7, 8])
        #expect(aus[0].nalTypes.filter { $0 == 5 }.count == slices)

        let (sent, kinds) = packets(aus, maxPayloadSize: 300)
        #expect(kinds.contains(24))                       // STAP-A (SPS + PPS)
        #expect(kinds.contains(28))                       // FU-A
        if slices == 1 {
            #expect(kinds.contains { $0 >= 1 && $0 <= 23 })   // single NAL unit packets (small slices of 4 get aggregated)
        }

        for seed: UInt64 in [1, 2, 3] {
            let (frames, dep) = depacketize(sent, seed: seed)
            #expect(frames.count == aus.count)
            guard frames.count == aus.count else { continue }
            for (f, au) in zip(frames, aus) {
                #expect(f.codec == .h264)
                #expect(f.data == au.normalized)
                #expect(f.isKeyframe == au.isIDR)
                #expect(f.width == (au.isIDR ? 320 : nil))
                #expect(f.height == (au.isIDR ? 240 : nil))
            }
            #expect(indices(frames) == Array(0..<60))
            #expect(dep.stats.frames == 60 && dep.stats.keyframes == 2)
            #expect(dep.stats.packetsInvalid == 0 && dep.stats.framesDroppedIncomplete == 0)
            #expect(!dep.needsKeyframe)
        }
    }

    /// Sizes that are whole macroblocks and sizes that need the SPS cropping rectangle.
    @Test(arguments: [(320, 240, "baseline"), (320, 180, "baseline"), (1280, 720, "main"), (200, 130, "high"), (176, 100, "high444")])
    func keyframeSizeFromSPS(width: Int, height: Int, profile: String) throws {
        let aus = makeH264Stream(width: width, height: height, count: 3, idrAt: [0], profile: profile)
        let sps = try #require(AnnexB.nalUnits(in: aus[0].data).first { $0.first! & 0x1F == 7 })
        let parsed = try #require(H264SPS(nal: sps))
        #expect(parsed.width == width && parsed.height == height)
        #expect(parsed.chromaFormatIdc == (profile == "high444" ? 3 : 1))

        let (sent, _) = packets(aus, maxPayloadSize: 1200)
        let (frames, _) = depacketize(sent)
        #expect(frames.count == 3)
        #expect(frames.first?.isKeyframe == true)
        #expect(frames.first?.width == width && frames.first?.height == height)
    }

    /// High profile with custom scaling matrices (seq_scaling_matrix_present_flag) must still parse.
    @Test func spsWithScalingListsParses() throws {
        let aus = makeH264Stream(width: 640, height: 360, count: 1, idrAt: [0], profile: "high", extraParams: "cqm=jvt")
        let sps = try #require(AnnexB.nalUnits(in: aus[0].data).first { $0.first! & 0x1F == 7 })
        let parsed = try #require(H264SPS(nal: sps))
        #expect(parsed.profileIdc == 100)
        #expect(parsed.width == 640 && parsed.height == 360)
    }

    @Test func handmadeSPSFields() throws {
        // Baseline, level 3.0, id 0, poc type 2, 1 ref, 20x15 MBs, frame_mbs_only, crop bottom 4 units (8 lines).
        var w = BitWriter()
        w.write(0x67, 8); w.write(66, 8); w.write(0xC0, 8); w.write(30, 8)
        w.ue(0); w.ue(0); w.ue(2); w.ue(1); w.write(0, 1); w.ue(19); w.ue(14); w.write(1, 1); w.write(1, 1)
        w.write(1, 1); w.ue(0); w.ue(0); w.ue(0); w.ue(4)
        w.write(1, 1) // rbsp_stop_one_bit
        let sps = try #require(H264SPS(nal: w.bytes[...]))
        #expect(sps.width == 320 && sps.height == 232)
        #expect(sps.profileIdc == 66 && sps.levelIdc == 30)
        // Truncated anywhere: nil, never a trap.
        for n in 0..<(w.bytes.count - 1) { _ = H264SPS(nal: w.bytes.prefix(n)) }
        #expect(H264SPS(nal: w.bytes.prefix(6)) == nil)
    }

    @Test func annexBSplitsThreeAndFourByteStartCodes() {
        let stream: [UInt8] = [0xFF, 0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 0, 0, 3, 1, 9, 0, 0]
        let units = AnnexB.nalUnits(in: stream).map(Array.init)
        #expect(units == [[0x67, 1, 2], [0x68, 3], [0x65, 0, 0, 3, 1, 9]])
        #expect(AnnexB.join(units) == [0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 0, 0, 3, 1, 9])
        #expect(AnnexB.nalUnits(in: [0, 0, 1]).isEmpty)
        #expect(AnnexB.nalUnits(in: []).isEmpty)
    }

    @Test func packetizerFormats() {
        let p = H264Packetizer(maxPayloadSize: 20)
        let sps: [UInt8] = [0x67, 1, 2, 3, 4], pps: [UInt8] = [0x68, 5, 6]
        let idr: [UInt8] = [0x65] + Array(1...40)
        let out = p.payloads(forAnnexB: AnnexB.join([sps, pps, idr]))
        // STAP-A: NRI 3 of the SPS, 16-bit sizes.
        #expect(out[0] == [0x78, 0, 5] + sps + [0, 3] + pps)
        // FU-A: indicator keeps F/NRI, header has S/E and the type; the header byte itself is not repeated.
        #expect(out.count == 1 + 3)
        #expect(out[1].prefix(2) == [0x7C, 0x85])
        #expect(out[2].prefix(2) == [0x7C, 0x05])
        #expect(out[3].prefix(2) == [0x7C, 0x45])
        #expect(out.dropFirst().flatMap { $0.dropFirst(2) } == Array(1...40))
        // A NAL unit that fits alone goes alone.
        #expect(p.payloads(forAnnexB: AnnexB.join([[0x41, 9, 9]])) == [[0x41, 9, 9]])
    }

    @Test func lostFUAFragmentDropsFrameAndHoldsUntilIDR() throws {
        let aus = makeH264Stream()
        let (sent, _) = packets(aus, maxPayloadSize: 300)
        // A middle FU-A fragment of frame 6 (a P frame).
        let lost = try #require(sent.indices.first { i in
            sent[i].frameIndex == 6 && payloadType(sent[i].packet.payload) == 28 && fuHeader(sent[i].packet.payload) & 0xC0 == 0
        })
        let (frames, dep) = depacketize(sent, drop: [lost])
        #expect(indices(frames) == Array(0..<6) + Array(30..<60))
        #expect(dep.stats.framesDroppedIncomplete == 1)
        #expect(dep.stats.framesDroppedWaitingForKeyframe == 23)
        #expect(frames.count > 6 && frames[6].isKeyframe)

        // needsKeyframe is raised at once and cleared by the IDR.
        var d = H264Depacketizer()
        var rb = ReorderBuffer(maxPackets: 16, maxDelayMicros: 0)
        var sawNeed = false
        for (i, s) in sent.enumerated() where i != lost {
            for o in rb.insert(s.packet, arrivalMicros: Int64(i)) { _ = d.consume(o) }
            if s.frameIndex == 10 { sawNeed = sawNeed || d.needsKeyframe }
        }
        #expect(sawNeed)
        #expect(!d.needsKeyframe)
    }

    @Test func idrWithoutParameterSetsGetsTheCachedOnes() throws {
        var aus = makeH264Stream()
        let original = aus[30].normalized
        aus[30].data = AnnexB.join(AnnexB.nalUnits(in: aus[30].data).filter { ![7, 8].contains($0.first! & 0x1F) })
        #expect(!aus[30].nalTypes.contains(7))
        let (sent, _) = packets(aus, maxPayloadSize: 300)
        let (frames, _) = depacketize(sent)
        #expect(frames.count == 60)
        #expect(frames[30].data == original)
        #expect(frames[30].isKeyframe && frames[30].width == 320 && frames[30].height == 240)

        // Behind an access unit delimiter, the parameter sets go after it.
        var d = H264Depacketizer()
        let sps = Array(AnnexB.nalUnits(in: original)[0]), pps = Array(AnnexB.nalUnits(in: original)[1])
        let idr = Array(AnnexB.nalUnits(in: original)[2])
        var seq: Int64 = 0
        func send(_ nals: [[UInt8]], ts: Int64) -> [EncodedFrame] {
            var out: [EncodedFrame] = []
            let payloads = H264Packetizer(maxPayloadSize: 200).payloads(forAnnexB: AnnexB.join(nals))
            for (k, p) in payloads.enumerated() {
                let pkt = RTPPacket(payloadType: 102, sequenceNumber: UInt16(seq), timestamp: UInt32(ts), ssrc: 1,
                                    marker: k == payloads.count - 1, payload: p)
                out += d.push(ordered(pkt, seq: seq, ts: ts))
                seq += 1
            }
            return out
        }
        #expect(send([idr], ts: 0).isEmpty)                 // nothing cached yet: unusable
        #expect(d.keyframesWithoutParameterSets == 1)
        #expect(send([sps, pps], ts: 100).isEmpty)          // parameter sets alone are no frame
        let f = send([[0x09, 0xF0], idr], ts: 200)
        #expect(f.map(\.data) == [AnnexB.join([[0x09, 0xF0], sps, pps, idr])])
        #expect(d.lastSPS == sps && d.lastPPS == pps)
    }

    /// Losing the beginning of an IDR (its STAP-A and first slice) must not yield a partial keyframe,
    /// although no packet of that access unit was seen before the loss.
    @Test func lostStartOfMultiSliceIDRIsNotEmitted() throws {
        let aus = makeH264Stream(slices: 4)
        let (sent, _) = packets(aus, maxPayloadSize: 1200)
        let idrPackets = sent.indices.filter { sent[$0].frameIndex == 30 }
        #expect(idrPackets.count >= 4)
        // STAP-A (SPS+PPS), then the first slice (the noise band: fragmented); drop through its FU-A end.
        #expect(payloadType(sent[idrPackets[0]].packet.payload) == 24)
        let firstSliceEnd = try #require(idrPackets.first { i in
            let p = sent[i].packet.payload
            return payloadType(p) == 28 && fuHeader(p) & 0x40 != 0
        })
        #expect(firstSliceEnd < idrPackets.last!)
        let (frames, dep) = depacketize(sent, drop: Set(idrPackets.first!...firstSliceEnd))
        #expect(indices(frames) == Array(0..<30))
        #expect(dep.stats.framesDroppedIncomplete == 1)
        #expect(dep.needsKeyframe)
    }

    @Test func unsupportedAndMalformedPacketsAreCounted() {
        var d = H264Depacketizer()
        var seq: Int64 = 0
        func push(_ payload: [UInt8], marker: Bool = true, ts: Int64) -> Int {
            defer { seq += 1 }
            return d.push(ordered(RTPPacket(payloadType: 102, sequenceNumber: UInt16(seq), timestamp: UInt32(ts), ssrc: 1,
                                            marker: marker, payload: payload), seq: seq, ts: ts)).count
        }
        let stap: [UInt8] = [0x78, 0, 3, 0x67, 0x42, 0x00, 0, 2, 0x68, 0xCE]
        #expect(push(stap + [0, 3, 0x65, 0x88, 0x84], ts: 0) == 1)        // SPS (unparsable: no size) + PPS + IDR in one STAP-A
        #expect(push([0x41, 0x9A, 1], ts: 1) == 1)
        #expect(push([0x19, 0, 1, 0, 2, 0x41, 0x9A], ts: 2) == 0)        // STAP-B
        #expect(push([0x1A, 0, 0], ts: 3) == 0)                           // MTAP16
        #expect(push([0x1B, 0, 0], ts: 4) == 0)                           // MTAP24
        #expect(push([0x1D, 0x85, 0, 0, 1], ts: 5) == 0)                  // FU-B
        #expect(d.packetsUnsupported == 4)
        #expect(push([0x78, 0, 9, 0x67], ts: 6) == 0)                     // STAP-A size past the end
        #expect(push([0x7C, 0x05, 1, 2], ts: 7) == 0)                     // FU-A middle without a start
        #expect(push([0x1E, 1], ts: 8) == 0)                              // type 30
        #expect(push([0xE5, 1], ts: 9) == 0)                              // forbidden bit
        #expect(push([], ts: 10) == 0)
        #expect(d.stats.packetsInvalid == 9)
        #expect(d.needsKeyframe)
        #expect(push([0x41, 0x9A, 2], ts: 11) == 0)                        // held: waiting for an IDR
        #expect(push([0x65, 0x88, 0x84], ts: 12) == 1)
        #expect(d.stats.frames == 3 && d.stats.keyframes == 2)
        #expect(d.stats.framesDroppedWaitingForKeyframe == 1)
        // A frame without its marker is finished by the next timestamp; at the end it is dropped.
        #expect(push([0x41, 0x9A, 3], marker: false, ts: 13) == 0)
        #expect(push([0x41, 0x9A, 4], marker: false, ts: 14) == 1)
        _ = d.flush()
        #expect(d.stats.framesDroppedIncomplete >= 1)
    }
}
