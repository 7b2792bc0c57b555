/// How one group ended.
public enum BatchOutcome: Sendable {
    case done
    case skipped
    case failed(any Error)

    public var word: String {
        switch self {
        case .done: return "done"
        case .skipped: return "skipped"
        case .failed: return "failed"
        }
    }
}

/// One group's outcome, and what its transcode wrote and warned about.
public struct BatchGroupResult: Sendable {
    public var group: BatchGroup
    public var outcome: BatchOutcome
    public var outputs: [OutputFile]
    public var warnings: [String]

    public init(group: BatchGroup, outcome: BatchOutcome, outputs: [OutputFile] = [], warnings: [String] = []) {
        self.group = group
        self.outcome = outcome
        self.outputs = outputs
        self.warnings = warnings
    }

    /// `<name>: done`, `<name>: skipped` or `<name>: failed: <reason>` (one line).
    public var line: String {
        if case .failed(let error) = outcome {
            return "\(group.name): failed: " + "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
        }
        return "\(group.name): \(outcome.word)"
    }
}

/// The end-of-batch report: a line per group and the counts.
public struct BatchSummary: Sendable, Equatable {
    public var done = 0
    public var skipped = 0
    public var failed = 0
    public var lines: [String] = []

    public init(_ results: [BatchGroupResult]) {
        for result in results {
            switch result.outcome {
            case .done: done += 1
            case .skipped: skipped += 1
            case .failed: failed += 1
            }
            lines.append(result.line)
        }
    }

    /// `batch: <n> done, <n> skipped, <n> failed`.
    public var totalLine: String { "batch: \(done) done, \(skipped) skipped, \(failed) failed" }
}
