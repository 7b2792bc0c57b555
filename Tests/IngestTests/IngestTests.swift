import SeededRandom
import Capture
import Foundation
import Media
import RTP
import Synth
import Testing
@testable import Ingest

/// Collects a synthetic room's packets in memory.
final class MemorySink: SynthSink {
    var packets: [SynthPacket] = []
    func write(_ packet: SynthPacket) throws { packets.append(packet) }
    func close() throws {}
}

func synthPackets(_ configure: (inout SynthOptions) -> Void = { _ in }) throws -> [SynthPacket] {
    var options = SynthOptions()
    options.participants = 1
    options.seconds = 2
    options.width = 160
    options.height = 96
    configure(&options)
    let sink = MemorySink()
    try SynthGenerator(options: options).run(into: sink)
    return sink.packets
}

@Suite struct JanusRecordingNameTests {
    @Test func multistreamName() throws {
        let name = try #require(JanusRecordingName(path: "/rec/videoroom-1234-user-5678-1700000000123456-video-1.mjr"))
        #expect(name == JanusRecordingName(room: "1234", user: "5678", startMicros: 1_700_000_000_123_456, kind: "video", mindex: 1))
    }

    @Test func legacyNameWithoutMindexAndStringIds() throws {
        let name = try #require(JanusRecordingName(path: "videoroom-my-room-user-alice-b-1700000000000000-audio.mjr"))
        #expect(name.room == "my-room" && name.user == "alice-b" && name.kind == "audio" && name.mindex == nil)
    }

    @Test(arguments: ["room.mjr", "videoroom-1-user-2-x-audio.mjr", "videoroom-1-2-100-audio.mjr", "videoroom--user-2-100-video.mjr"])
    func rejectsOtherNames(path: String) {
        #expect(JanusRecordingName(path: path) == nil)
    }
}

extension JanusRecordingName {
    init(room: String, user: String, startMicros: Int64, kind: String, mindex: Int?) {
        self = JanusRecordingName(path: "videoroom-\(room)-user-\(user)-\(startMicros)-\(kind)\(mindex.map { "-\($0)" } ?? "").mjr")!
    }
}

@Suite struct SafeFileNameTests {
    @Test func keepsSafeCharactersOnly() {
        #expect(safeFileName("alice") == "alice")
        #expect(safeFileName("../../etc/passwd") == "_._.._etc_passwd")
        #expect(safeFileName("Zoë {cam}") == "Zo___cam_")
        #expect(safeFileName("") == "_")
        #expect(safeFileName(".hidden") == "_hidden")
        #expect(safeFileName(String(repeating: "x", count: 500)).count == 64)
    }
}

@Suite struct CodecSnifferTests {
    private func sniff(_ packets: [SynthPacket], kind: MediaKind) throws -> Codec? {
        var sniffer = CodecSniffer()
        for p in packets where !p.isRTCP && p.kind == kind { sniffer.add(try RTPPacket(parsing: p.data)) }
        return sniffer.guess()
    }

    @Test func recognisesOpusVP8AndVP9() throws {
        let vp8 = try synthPackets()
        #expect(try sniff(vp8, kind: .audio) == .opus)
        #expect(try sniff(vp8, kind: .video) == .vp8)
        let vp9 = try synthPackets { $0.videoCodec = .vp9 }
        #expect(try sniff(vp9, kind: .video) == .vp9)
    }

    @Test func recognisesCodecsInALossyReorderedSampleWithoutKeyframes() throws {
        // Start the sample after the first keyframe, with loss, duplicates and reordering.
        let packets = try synthPackets { $0.loss = 0.05; $0.duplicate = 0.05; $0.reorder = 0.1; $0.seconds = 4 }
        let late = packets.filter { $0.arrivalMicros >= SynthOptions().startMicros + 500_000 }
        #expect(try sniff(late, kind: .audio) == .opus)
        #expect(try sniff(late, kind: .video) == .vp8)
    }

    @Test func recognisesH264FromItsKeyframe() throws {
        let packets = try synthPackets { $0.h264Participants = [0] }
        #expect(try sniff(packets, kind: .audio) == .opus)
        #expect(try sniff(packets, kind: .video) == .h264)
        // The decision is the keyframe (SPS with a plausible size, PPS, IDR), not the structure score.
        var sniffer = CodecSniffer()
        for p in packets where !p.isRTCP && p.kind == .video { sniffer.add(try RTPPacket(parsing: p.data)) }
        #expect(sniffer.guess() == .h264)
    }

    @Test func mixedRoomEachParticipantGetsItsOwnCodec() throws {
        for base in [Codec.vp8, .vp9] {
            let packets = try synthPackets { $0.participants = 3; $0.videoCodec = base; $0.h264Participants = [1] }
            for i in 0..<3 {
                let mine = packets.filter { $0.participant == i }
                #expect(try sniff(mine, kind: .audio) == .opus, "participant \(i) audio (\(base) room)")
                #expect(try sniff(mine, kind: .video) == (i == 1 ? .h264 : base), "participant \(i) video (\(base) room)")
            }
        }
    }

    @Test func recognisesH264InALossyReorderedSampleWithoutKeyframes() throws {
        let packets = try synthPackets { $0.h264Participants = [0]; $0.loss = 0.05; $0.duplicate = 0.05; $0.reorder = 0.1; $0.seconds = 4 }
        let late = packets.filter { $0.arrivalMicros >= SynthOptions().startMicros + 500_000 }
        #expect(try sniff(late, kind: .video) == .h264)
    }

    @Test func randomPayloadsAreNotGuessed() {
        var rng = SplitMix64(seed: 3)
        var sniffer = CodecSniffer()
        for i in 0..<48 {
            let payload = (0..<Int.random(in: 1...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            sniffer.add(RTPPacket(payloadType: 100, sequenceNumber: UInt16(i), timestamp: UInt32.random(in: 0...UInt32.max, using: &rng),
                                  ssrc: 9, marker: Bool.random(using: &rng), payload: payload))
        }
        #expect(sniffer.guess() == nil)
    }
}

@Suite struct RoomScannerTests {
    @Test func groupsByCNameAndReadsSenderReports() throws {
        let dir = NSTemporaryDirectory() + "flowrec-ingest-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = SynthOptions()
        options.participants = 3
        options.seconds = 3
        options.width = 160
        options.height = 96
        let sink = try makeSynthSink(format: .rtpdump, path: dir + "/room.rtpdump", options: options)
        try SynthGenerator(options: options).run(into: sink)

        let inventory = try RoomScanner.scan(paths: [dir + "/room.rtpdump"])
        #expect(inventory.participants.map(\.name) == ["user-1001", "user-1002", "user-1003"])
        #expect(inventory.participants.allSatisfy { $0.streams.count == 2 })
        #expect(inventory.streams.allSatisfy { $0.senderReport != nil && $0.codec != nil })
        #expect(inventory.warnings.isEmpty)

        // The explicit --pt mapping wins over sniffing.
        let forced = try RoomScanner.scan(paths: [dir + "/room.rtpdump"], options: IngestOptions(payloadTypes: [111: .opus, 96: .vp8]))
        #expect(forced.streams.allSatisfy { $0.codecSource == "--pt" })
    }

    @Test(arguments: [SynthFormat.pcap, .rtpdump])
    func sniffsAnH264ParticipantInACapture(format: SynthFormat) throws {
        let dir = NSTemporaryDirectory() + "flowrec-ingest-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = SynthOptions()
        options.participants = 3
        options.seconds = 2
        options.width = 160
        options.height = 96
        options.h264Participants = [1]
        let path = dir + "/room.\(format.rawValue)"
        let sink = try makeSynthSink(format: format, path: path, options: options)
        try SynthGenerator(options: options).run(into: sink)

        let inventory = try RoomScanner.scan(paths: [path])
        #expect(inventory.warnings.isEmpty, "\(inventory.warnings)")
        #expect(inventory.participants.count == 3)
        for (i, participant) in inventory.participants.enumerated() {
            let codecs = participant.streams.compactMap { inventory.stream($0) }.map { $0.codec }
            #expect(Set(codecs) == [.opus, i == 1 ? .h264 : .vp8], "\(participant.name): \(codecs)")
        }
        let h264 = try #require(inventory.streams.first { $0.codec == .h264 })
        #expect(h264.payloadType == 102 && h264.codecSource == "sniffed")
    }

    @Test func mjrOfAnH264ParticipantSaysH264AndFollowsAResolutionChange() throws {
        let dir = NSTemporaryDirectory() + "flowrec-ingest-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = SynthOptions()
        options.participants = 2
        options.seconds = 2
        options.width = 160
        options.height = 96
        options.keyframeInterval = 20
        options.resolutionChangeAt = 1
        options.h264Participants = [0]
        let sink = try makeSynthSink(format: .mjr, path: dir, options: options)
        try SynthGenerator(options: options).run(into: sink)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".mjr") }.sorted().map { dir + "/" + $0 }
        let videos = files.filter { $0.hasSuffix("video-1.mjr") }
        #expect(videos.count == 2)
        for path in videos {
            let header = try MJRReader(path: path).header
            #expect(header.codec == (path.contains("user-1001") ? "h264" : "vp8"), "\(path): \(header.codec)")
        }

        let inventory = try RoomScanner.scan(paths: files)
        let h264 = try #require(inventory.streams.first { $0.codec == .h264 })
        #expect(h264.codecSource == "mjr header" && h264.payloadType == 102)
        let reader = FrameReader(inventory: inventory, options: IngestOptions())
        var keyframes: [String] = []
        var pictures = 0
        while let roomFrame = try reader.next() {
            guard roomFrame.stream == h264.key else { continue }
            pictures += 1
            if roomFrame.frame.isKeyframe { keyframes.append("\(roomFrame.frame.width ?? 0)x\(roomFrame.frame.height ?? 0)") }
        }
        // IDRs every 20 pictures, and a new encoder (IDR, new SPS) at the change to half size.
        #expect(pictures == 60)
        #expect(keyframes == ["160x96", "160x96", "80x48", "80x48"], "\(keyframes)")
    }

    @Test func noInputsIsAnError() {
        #expect(throws: IngestError.self) { try RoomScanner.scan(paths: []) }
    }
}

@Suite struct LiveCaptureNamingTests {
    @Test func flowrecCapturesAreNamedByFile() {
        #expect(RoomScanner.liveCaptureParticipant(path: "/rec/demo-20261130T080000Z.capture/alice.pcap") == "alice")
        #expect(RoomScanner.liveCaptureParticipant(path: "rec/room.capture/alice-screen@2.pcap") == "alice-screen")
        #expect(RoomScanner.liveCaptureParticipant(path: "room.capture/p1.pcap") == "p1")
        #expect(RoomScanner.liveCaptureParticipant(path: "/rec/other/alice.pcap") == nil)
        #expect(RoomScanner.liveCaptureParticipant(path: "/rec/x.capture/alice.mjr") == nil)
        #expect(RoomScanner.liveCaptureParticipant(path: "/rec/x.capture/v1.5.pcap") == "v1.5")
    }
}
