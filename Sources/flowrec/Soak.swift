import ArgumentParser
import Foundation
import Jobs
import Media
import Soak

/// `flowrec soak --out DIR`: the live path for a long virtual time, watching memory (issue 6's soak
/// test runs it). Hidden: a tool for tests and developers, not for users.
struct SoakCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Run the live recording path on a virtual clock with synthetic publishers and report memory as JSON.",
        shouldDisplay: false)

    @Option(help: "Output folder: captures, the composite and per-participant WebM.") var out: String
    @Option(help: "Virtual length, e.g. 1h, 10m.") var duration = "1h"
    @Option(help: "Publishers at once.") var publishers = 3
    @Option(help: "Sample memory this often (virtual), e.g. 60s.") var sampleEvery = "60s"
    @Option(help: "Every this often (virtual) a publisher leaves and rejoins 10 s later as a new participant ('never': nobody leaves).")
    var rejoinEvery = "10m"
    @Option(help: "Fraction of media packets lost (0-1).") var loss = 0.01
    @Option(help: "Fraction of media packets reordered (0-1).") var reorder = 0.01
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "From virtual time T on, the first publisher's keyframes declare WxH in their headers: T=WxH.") var declareSize: String?
    @Option(help: ArgumentHelp(maxPictureHelp, valueName: "WxH")) var maxPicture: String?

    func run() throws {
        var options = SoakOptions(out: out)
        options.seconds = try seconds(duration, "--duration")
        options.sampleEverySeconds = max(1, try seconds(sampleEvery, "--sample-every"))
        guard (1...8).contains(publishers) else { throw ValidationError("--publishers must be 1...8") }
        options.publishers = publishers
        options.rejoinEverySeconds = rejoinEvery == "never" ? nil : try seconds(rejoinEvery, "--rejoin-every")
        for (name, value) in [("--loss", loss), ("--reorder", reorder)] where !(0...1).contains(value) {
            throw ValidationError("\(name) must be a fraction 0...1")
        }
        options.loss = loss
        options.reorder = reorder
        options.seed = seed
        if let declareSize {
            let parts = declareSize.split(separator: "=")
            guard parts.count == 2, let size = PictureSize(parsing: String(parts[1])) else {
                throw ValidationError("--declare-size: '\(declareSize)' is not TIME=WxH")
            }
            options.declaredPicture = (try seconds(String(parts[0]), "--declare-size"), size)
        }
        if let limit = try pictureLimit(maxPicture) { options.maxPicture = limit }
        try runJob {
            let report = try SoakRun(options: options).run()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        }
    }

    private func seconds(_ text: String, _ flag: String) throws -> Int {
        guard let value = parseDuration(text), value >= 1 else { throw ValidationError("\(flag): '\(text)' is not a duration like 90s, 15m, 1h") }
        return Int(value.rounded())
    }
}
