import ArgumentParser
import Foundation
import Live
import Logging
import Media

/// `flowrec recover DIR`: finish recordings interrupted by SIGKILL, power loss or a crash.
struct Recover: LoggingCommand {
    static let configuration = CommandConfiguration(
        abstract: "Finish interrupted recordings: make the outputs and the manifest from their raw captures.",
        discussion: """
        DIR is a recording's <base>.capture folder, or the output folder holding it (then every recording there \
        whose manifest is not complete is recovered). The outputs are those a clean stop would have written, with the \
        pipeline the manifest names (or --pipeline); the manifest says state "recovered" and what span was lost.
        """)

    @Argument(help: "A <base>.capture folder, or the folder holding recordings.") var dir: String
    @Option(help: "Pipeline preset name or YAML file instead of the one the manifest names.") var pipeline: String?
    @Flag(inversion: .prefixedNo, help: "Also write one WebM per participant (default: as the recording was started).") var tracks: Bool?
    @Option(help: ArgumentHelp("Cut the outputs into files of this length instead of the recording's own --segment (see record --help).",
                               valueName: "duration"))
    var segment: String?
    @Option(help: ArgumentHelp(maxPictureHelp, valueName: "WxH")) var maxPicture: String?

    @OptionGroup(title: "Logging") var logging: LogOptions

    func validate() throws {
        _ = try segmentSeconds(segment)
        _ = try pictureLimit(maxPicture)
    }

    func run() throws {
        try runJob {
            let recovered = try RecoverJob.run(path: dir, pipeline: pipeline, tracks: tracks, segmentSeconds: try segmentSeconds(segment),
                                               maxPicture: try pictureLimit(maxPicture) ?? .standard, logger: logger)
            for recording in recovered {
                for warning in recording.manifest.warnings { logger.warning("\(warning)", metadata: ["path": "\(recording.manifestPath)"]) }
                for output in recording.manifest.outputs { print(outputLine(output)) }
                print("wrote \(recording.manifestPath)  manifest state=recovered")
                if let lost = recording.manifest.lost { logger.warning("lost: \(lost)", metadata: ["path": "\(recording.manifestPath)"]) }
            }
        }
    }
}
