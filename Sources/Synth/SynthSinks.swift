import Foundation
import Capture
import Media

/// Capture formats a synthetic room can be written as.
public enum SynthFormat: String, Sendable, CaseIterable {
    case mjr, pcap, rtpdump
}

/// Creates the sink for `format`. `.mjr` writes a folder of Janus videoroom recordings
/// (`path` is the folder); pcap and rtpdump write one file.
public func makeSynthSink(format: SynthFormat, path: String, options: SynthOptions) throws -> SynthSink {
    switch format {
    case .mjr: return try MJRSynthSink(folder: path, options: options)
    case .pcap: return try PcapSynthSink(path: path)
    case .rtpdump: return try RTPDumpSynthSink(path: path, options: options)
    }
}

/// Writes one `.mjr` per participant and stream, named as Janus's videoroom names them.
/// RTCP is not recorded, as in Janus.
final class MJRSynthSink: SynthSink {
    private let folder: String
    private let options: SynthOptions
    private var writers: [String: MJRWriter] = [:]
    /// Paths written, in order of creation.
    private(set) var paths: [String] = []

    init(folder: String, options: SynthOptions) throws {
        self.folder = folder
        self.options = options
        try makeDirectory(folder)
    }

    func write(_ packet: SynthPacket) throws {
        guard !packet.isRTCP else { return }
        let key = "\(packet.participant)-\(packet.kind)"
        if writers[key] == nil {
            let participant = SynthParticipant(index: packet.participant)
            let audio = packet.kind == .audio
            let name = "videoroom-\(options.room)-user-\(participant.userID)-\(packet.arrivalMicros)-\(audio ? "audio-0" : "video-1").mjr"
            let path = folder + "/" + name
            writers[key] = try MJRWriter(path: path, kind: audio ? .audio : .video,
                                         codec: audio ? "opus" : options.videoCodec(of: packet.participant).rawValue, createdMicros: packet.arrivalMicros)
            paths.append(path)
        }
        try writers[key]!.write(packet.data, atMicros: packet.arrivalMicros)
    }

    func close() throws {
        for writer in writers.values { try writer.close() }
    }
}

/// Writes one pcap with a UDP flow per participant (10.99.0.(10+i):40000 → 10.99.0.1:50000).
final class PcapSynthSink: SynthSink {
    private let writer: PcapWriter

    init(path: String) throws { writer = try PcapWriter(path: path) }

    func write(_ packet: SynthPacket) throws {
        let flow = UDPFlow(source: "10.99.0.\(10 + packet.participant)", sourcePort: 40_000,
                           destination: "10.99.0.1", destinationPort: 50_000)
        try writer.write(packet.data, flow: flow, atMicros: packet.arrivalMicros)
    }

    func close() throws { try writer.close() }
}

/// Writes one rtpdump file; participants are told apart by their RTCP CNAMEs.
final class RTPDumpSynthSink: SynthSink {
    private let writer: RTPDumpWriter

    init(path: String, options: SynthOptions) throws {
        writer = try RTPDumpWriter(path: path, source: "10.99.0.1", port: 50_000, startMicros: options.startMicros)
    }

    func write(_ packet: SynthPacket) throws {
        try writer.write(packet.data, isRTCP: packet.isRTCP, atMicros: packet.arrivalMicros)
    }

    func close() throws { try writer.close() }
}

/// Creates `path` and its parents if missing.
func makeDirectory(_ path: String) throws {
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
}
