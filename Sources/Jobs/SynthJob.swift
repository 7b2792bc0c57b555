import Foundation
import Synth

/// `flowrec synth`: writes a synthetic room whose content tests can check.
public enum SynthJob {
    /// Generates the room; returns the paths written (the `.mjr` files, or the one capture file).
    @discardableResult
    public static func run(options: SynthOptions, format: SynthFormat, out: String) throws -> (paths: [String], stats: SynthGenerator.Stats) {
        if format != .mjr {
            let folder = (out as NSString).deletingLastPathComponent
            if !folder.isEmpty { try createOutputFolder(folder) }
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
