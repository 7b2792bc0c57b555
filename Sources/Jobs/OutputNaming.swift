/// Module `Jobs`: what each flowrec command does — transcode, inspect, synth — as plain
import Foundation
/// functions over options, so the CLI only parses arguments and tests can call jobs directly.
import Ingest

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
