import Foundation
import Ingest
import Media

/// Per-stream facts `flowrec inspect` prints.
public struct StreamReport: Sendable, Codable, Equatable {
    public var input: String
    public var ssrc: String
    public var participant: String
    public var codec: String
    public var codecSource: String
    public var payloadType: Int
    public var packets: Int
    public var lost: Int
    public var duplicates: Int
    public var reordered: Int
    public var late: Int
    public var frames: Int
    public var keyframes: Int
    public var framesDroppedIncomplete: Int
    public var framesDroppedWaitingForKeyframe: Int
    public var durationSeconds: Double
    public var resolutions: [String]
    public var hasSenderReports: Bool
    public var cname: String?
    /// RTP timestamp discontinuities (jumps its arrival does not account for).
    public var timestampJumps: Int
}

/// What `flowrec inspect` found.
public struct InspectReport: Sendable, Codable, Equatable {
    public var inputs: [String]
    public var participants: [String]
    public var streams: [StreamReport]
    public var warnings: [String]
}

/// `flowrec inspect INPUT...`: scans and depacketizes every stream, counting what it sees.
public enum InspectJob {
    public static func run(inputs: [String], options: IngestOptions = IngestOptions()) throws -> InspectReport {
        let inventory = try RoomScanner.scan(paths: inputs, options: options)
        let reader = FrameReader(inventory: inventory, options: options)
        while try reader.next() != nil {}
        let stats = reader.stats
        let streams = inventory.streams.map { info -> StreamReport in
            let s = stats[info.key] ?? StreamStats()
            var duration = Double(info.lastArrivalMicros &- info.firstArrivalMicros) / 1_000_000
            if let codec = info.codec, let first = s.firstRTPTimestamp, let last = s.lastRTPTimestamp {
                duration = Double(last &- first) / Double(codec.clockRate)
            }
            // Timestamps after a jump are on the stream's continuous timeline; what little may still
            // step back (within jitter) never makes a negative length.
            duration = max(0, duration)
            return StreamReport(
                input: inventory.inputs[info.key.input], ssrc: hex(info.key.ssrc), participant: info.participant,
                codec: info.codec?.rawValue ?? "unknown", codecSource: info.codecSource, payloadType: Int(info.payloadType),
                packets: info.packets, lost: s.reorder.lost, duplicates: s.reorder.duplicates, reordered: s.reorder.reordered,
                late: s.reorder.late, frames: s.depacketizer.frames, keyframes: s.depacketizer.keyframes,
                framesDroppedIncomplete: s.depacketizer.framesDroppedIncomplete,
                framesDroppedWaitingForKeyframe: s.depacketizer.framesDroppedWaitingForKeyframe,
                durationSeconds: (duration * 1000).rounded() / 1000, resolutions: s.resolutions.map(\.description),
                hasSenderReports: info.senderReport != nil, cname: info.cname, timestampJumps: s.timestampJumps)
        }
        let jumps = inventory.streams.compactMap { info in
            stats[info.key].flatMap { s in s.firstTimestampJump.map { info.jumpWarning($0, count: s.timestampJumps, originMicros: inventory.firstArrivalMicros) } }
        }
        return InspectReport(inputs: inputs, participants: inventory.participants.map(\.name), streams: streams,
                             warnings: inventory.warnings + jumps)
    }

    /// A human-readable table of `report`.
    public static func table(_ report: InspectReport) -> String {
        var lines: [String] = []
        let header = ["participant", "ssrc", "codec", "packets", "lost", "dup", "reord", "frames", "keyfr", "duration", "resolutions"]
        var rows: [[String]] = [header]
        for s in report.streams {
            rows.append([s.participant, s.ssrc, s.codec, "\(s.packets)", "\(s.lost)", "\(s.duplicates)", "\(s.reordered)",
                         "\(s.frames)", "\(s.keyframes)", String(format: "%.3fs", s.durationSeconds),
                         s.resolutions.isEmpty ? "-" : s.resolutions.joined(separator: ",")])
        }
        var widths = [Int](repeating: 0, count: header.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        for row in rows {
            lines.append(row.enumerated().map { i, cell in cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        for warning in report.warnings { lines.append("warning: \(warning)") }
        return lines.joined(separator: "\n")
    }
}
