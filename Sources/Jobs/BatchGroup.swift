import Foundation
import Ingest

/// A set of inputs transcoded together into one set of outputs.
public struct BatchGroup: Sendable, Equatable {
    /// The output base name, `<room>-<UTC start>` (or `<folder>-<UTC start>`), safe as a file name.
    public var name: String
    /// The Janus room; nil for a folder of other captures.
    public var room: String?
    public var files: [BatchInputFile]

    /// `label` is the room or folder the name starts with.
    public init(label: String, room: String?, files: [BatchInputFile]) {
        self.room = room
        self.files = files
        name = safeFileName(label)
        if let start = startMicros { name += "-" + BatchGrouping.utcStamp(start) }
    }

    public var inputs: [String] { files.map(\.path) }
    public var startMicros: Int64? { files.compactMap(\.startMicros).min() }
    public var bytes: Int64 { files.reduce(0) { $0 + $1.bytes } }
    public var newestInput: Date? { files.compactMap(\.modified).max() }

    /// Where the group's outputs go: `OUTDIR/<name>.webm`, participants beside it.
    public func location(outDir: String) -> OutputLocation {
        OutputLocation(droppingTrailingSlash(outDir) + "/" + name + ".webm")
    }

    /// The participants that get a file of their own, known from the file names alone (Janus
    /// groups: named as the transcode names them); nil for folder groups.
    public func predictedParticipants(options: IngestOptions = IngestOptions()) -> [String]? {
        guard room != nil else { return nil }
        var names: [String] = []
        for file in files where file.hasMedia {
            guard let janus = file.janus else { continue }
            let base = (file.path as NSString).lastPathComponent
            let name = safeFileName(options.participantByFile[file.path] ?? options.participantByFile[base] ?? janus.user)
            if !names.contains(name) { names.append(name) }
        }
        return names
    }
}
