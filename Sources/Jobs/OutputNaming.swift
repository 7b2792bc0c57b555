/// Module `Jobs`: what each flowrec command does — transcode, inspect, synth — as plain
import Foundation
/// functions over options, so the CLI only parses arguments and tests can call jobs directly.
import Ingest
import WebM

/// Where outputs go, following the CLI convention: an `--out` ending in `.webm` names the
/// composite file and per-participant files go beside it as `<stem>.<participant>.webm`;
/// any other `--out` is a folder holding `<participant>.webm`.
public struct OutputLocation: Sendable, Equatable {
    public var out: String

    public init(_ out: String) { self.out = out }

    /// True when `out` names the composite file.
    public var namesFile: Bool { out.lowercased().hasSuffix(".webm") }

    /// The folder outputs go into.
    public var folder: String {
        guard namesFile else { return out.isEmpty ? "." : out }
        guard let slash = out.lastIndex(of: "/") else { return "." }
        return slash == out.startIndex ? "/" : String(out[..<slash])
    }

    /// The composite file (only meaningful when `namesFile`; otherwise `<folder>/composite.webm`).
    public var compositePath: String { namesFile ? out : folder + "/composite.webm" }

    /// The per-participant file for `participant` (a name already safe as a file name).
    public func participantPath(_ participant: String) -> String {
        let name = safeFileName(participant)
        if namesFile {
            let stem = out.dropLast(5)
            return "\(stem).\(name).webm"
        }
        return folder + "/" + name + ".webm"
    }

    /// Segment `index` of the output `path` under `--segment`: `a.webm` → `a-000.webm`.
    public static func segmentPath(_ path: String, index: Int) -> String { SegmentedWebMWriter.segmentPath(path, index: index) }

    /// The segment files of the output `path` on disk (`<stem>-NNN.webm`, and those still `.partial`), sorted.
    public static func existingSegments(of path: String) -> (finished: [String], partial: [String]) {
        let folder = (path as NSString).deletingLastPathComponent
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension + "-"
        var finished: [String] = [], partial: [String] = []
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder)) ?? []).sorted()
        where name.hasPrefix(stem) {
            let rest = name.dropFirst(stem.count)
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard digits.count >= 3 else { continue }
            let full = folder.isEmpty ? name : folder + "/" + name
            switch rest.dropFirst(digits.count) {
            case ".webm": finished.append(full)
            case ".webm.partial": partial.append(full)
            default: continue
            }
        }
        return (finished, partial)
    }
}

/// Parses a `--segment` length (`15m`, `90s`, `1h`): whole seconds, at least ``SegmentClock/minimumSeconds``.
public func parseSegmentLength(_ text: String) throws(JobError) -> Int {
    guard let seconds = parseDuration(text) else { throw JobError("'\(text)' is not a duration like 15m or 90s") }
    if let problem = SegmentClock.problem(seconds: seconds) { throw JobError("\(text): \(problem)") }
    return Int(seconds)
}

/// Parses a duration written `90s`, `15m`, `1h30m`, `1h30m15s`, `250ms` or plain seconds (`42`, `1.5`).
public func parseDuration(_ text: String) -> Double? {
    let s = text.trimmingCharacters(in: .whitespaces).lowercased()
    guard !s.isEmpty else { return nil }
    if let plain = Double(s), plain >= 0, plain.isFinite { return plain }
    var total = 0.0
    var number = ""
    var sawUnit = false
    var chars = Array(s)
    var i = 0
    while i < chars.count {
        let c = chars[i]
        if c.isNumber || c == "." {
            number.append(c)
            i += 1
            continue
        }
        guard let value = Double(number) else { return nil }
        let unit: Double
        if c == "m", i + 1 < chars.count, chars[i + 1] == "s" {
            unit = 0.001
            i += 1
        } else if c == "h" { unit = 3600 } else if c == "m" { unit = 60 } else if c == "s" { unit = 1 } else { return nil }
        total += value * unit
        number = ""
        sawUnit = true
        i += 1
    }
    chars = []
    guard number.isEmpty, sawUnit else { return nil }
    return total
}
