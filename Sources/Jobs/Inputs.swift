import Foundation

/// The name endings of capture files: what a folder among the inputs, or a `--batch` folder, is searched for.
let captureFileExtensions: Set<String> = ["mjr", "pcap", "pcapng", "rtpdump", "rtp", "cap"]

/// `path` without a trailing `/` (`/` itself stays).
func droppingTrailingSlash(_ path: String) -> String {
    path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
}

/// Expands folders among `inputs` into the capture files they hold (`.mjr`, `.pcap`, `.pcapng`,
/// `.rtpdump`, `.rtp`), sorted by name; files are kept as given.
public func expandInputs(_ inputs: [String]) throws -> [String] {
    var out: [String] = []
    for input in inputs {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
            throw JobError("\(input): no such file or folder")
        }
        if isDirectory.boolValue {
            let names = try FileManager.default.contentsOfDirectory(atPath: input).sorted()
            let found = names.filter { captureFileExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
            if found.isEmpty { throw JobError("\(input): folder holds no capture files (.mjr, .pcap, .pcapng, .rtpdump)") }
            out += found.map { (input as NSString).appendingPathComponent($0) }
        } else {
            out.append(input)
        }
    }
    return out
}
