import Foundation
import Ingest
import Media

/// The skip check of `--batch`: which files a group writes, and whether they are all there and
/// up to date. The rule reads the output folder through ``BatchOutputFiles``, so it can be
/// tested without a disk.
extension BatchTranscodeJob {
    /// The files a group writes, when they can be known before transcoding it: the composite
    /// (if the pipeline makes one) and, with tracks, one per participant — named from the Janus
    /// file names, or for folder groups from a scan of the inputs (only done when `scan` is true).
    public static func expectedOutputs(of group: BatchGroup, settings: BatchSettings, scan: Bool = true) -> [String]? {
        let location = group.location(outDir: settings.outDir)
        var paths: [String] = []
        if settings.pipeline.composite != nil { paths.append(location.compositePath) }
        if settings.pipeline.tracks {
            var names = group.predictedParticipants(options: settings.options)
            if names == nil, scan, let inventory = try? RoomScanner.scan(paths: group.inputs, options: settings.options) {
                let remuxable: Set<Codec> = [.opus, .vp8, .vp9]
                names = inventory.participants.filter { participant in
                    participant.streams.contains { inventory.stream($0)?.codec.map(remuxable.contains) ?? false }
                }.map(\.name)
            }
            guard let names else { return nil }
            paths += names.map(location.participantPath)
        }
        return paths
    }

    /// True when the group need not be made again: every output it writes exists under its final
    /// name (not `.partial`) and is no older than the group's newest input. Segmented outputs:
    /// at least one segment of each, all fresh, none still `.partial`.
    public static func isComplete(_ group: BatchGroup, settings: BatchSettings) -> Bool {
        isComplete(group, settings: settings, files: .live)
    }

    /// ``isComplete(_:settings:)`` over `files`.
    static func isComplete(_ group: BatchGroup, settings: BatchSettings, files: BatchOutputFiles) -> Bool {
        let newest = group.newestInput
        func freshFile(_ path: String) -> Bool {
            guard let file = files.regularFile(path) else { return false }
            guard let newest, let modified = file.modified else { return true }
            return modified >= newest
        }
        func fresh(_ path: String) -> Bool {
            guard settings.pipeline.segmentSeconds != nil else { return freshFile(path) }
            let segments = files.segments(path)
            return !segments.finished.isEmpty && segments.partial.isEmpty && segments.finished.allSatisfy(freshFile)
        }
        // The composite first: a folder group is only scanned when that much is done already.
        if settings.pipeline.composite != nil && !fresh(group.location(outDir: settings.outDir).compositePath) { return false }
        guard let outputs = expectedOutputs(of: group, settings: settings), !outputs.isEmpty else { return false }
        return outputs.allSatisfy(fresh)
    }
}

/// What the skip check reads of the output folder.
struct BatchOutputFiles: Sendable {
    /// A regular file on disk; `modified` is nil when unknown.
    struct RegularFile: Sendable {
        var modified: Date?
    }

    /// The regular file at a path; nil when there is none (missing, a folder, …).
    var regularFile: @Sendable (String) -> RegularFile?
    /// The segment files of an output path (see ``OutputLocation/existingSegments(of:)``).
    var segments: @Sendable (String) -> (finished: [String], partial: [String])

    /// The file system.
    static let live = BatchOutputFiles(
        regularFile: { path in
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                  attributes[.type] as? FileAttributeType == .typeRegular else { return nil }
            return RegularFile(modified: attributes[.modificationDate] as? Date)
        },
        segments: { OutputLocation.existingSegments(of: $0) })
}
