import Foundation
import Synth

/// `flowrec synth`: writes a synthetic room whose content tests can check.
public enum SynthJob {
    /// Generates the room; returns the paths written (the `.mjr` files, or the one capture file).
    @discardableResult
    public static func run(options: SynthOptions, format: SynthFormat, out: String) throws -> (paths: [String], stats: SynthGenerator.Stats) {
        if format != .mjr {
            let folder = (out as NSString).deletingLastPathComponent
            if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        }
        let generator = try SynthGenerator(options: options)
        let sink = try makeSynthSink(format: format, path: out, options: options)
        try generator.run(into: sink)
        let paths: [String]
        if format == .mjr {
            paths = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".mjr") }.sorted().map { out + "/" + $0 }
        } else {
            paths = [out]
        }
        return (paths, generator.stats)
    }
}

/// Expands folders among `inputs` into the capture files they hold (`.mjr`, `.pcap`, `.pcapng`,
/// `.rtpdump`, `.rtp`), sorted by name; files are kept as given.
public func expandInputs(_ inputs: [String]) throws -> [String] {
    var out: [String] = []
    let extensions: Set<String> = ["mjr", "pcap", "pcapng", "rtpdump", "rtp", "cap"]
    for input in inputs {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
            throw JobError("\(input): no such file or folder")
        }
        if isDirectory.boolValue {
            let names = try FileManager.default.contentsOfDirectory(atPath: input).sorted()
            let found = names.filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }
            if found.isEmpty { throw JobError("\(input): folder holds no capture files (.mjr, .pcap, .pcapng, .rtpdump)") }
            out += found.map { (input as NSString).appendingPathComponent($0) }
        } else {
            out.append(input)
        }
    }
    return out
}
