/// The batch's progress: groups ended, and media time over the groups being transcoded.
public struct BatchProgress: Sendable {
    public var groupsDone: Int
    public var groupsTotal: Int
    /// Media seconds done of the estimated total, summed over groups (nil until a total is known).
    /// Groups not started yet are estimated from their size at the bytes per second seen so far.
    public var media: JobProgress?
    /// Set when this report announces that a group ended.
    public var ended: BatchGroupResult?
}

/// Sums the groups' progress into the batch's media progress, sans-IO: per group the media
/// seconds in total (once its transcode reports it) and done; groups not started yet count at
/// the seconds per byte seen so far.
struct BatchProgressTally: Sendable {
    private let bytes: [Int64]
    /// Per group: media seconds in total (nil until its transcode reports it) and done.
    private var totals: [Double?]
    private var positions: [Double]
    /// Groups whose size no longer estimates anything: skipped or ended.
    private var settled: [Bool]
    /// Groups ended.
    private(set) var ended = 0

    /// `bytes`: each group's input size.
    init(bytes: [Int64]) {
        self.bytes = bytes
        totals = Array(repeating: nil, count: bytes.count)
        positions = Array(repeating: 0, count: bytes.count)
        settled = Array(repeating: false, count: bytes.count)
    }

    /// Group `i`'s transcode reported `p`.
    mutating func update(_ i: Int, _ p: JobProgress) {
        totals[i] = p.totalSeconds
        positions[i] = min(p.mediaSeconds, p.totalSeconds)
    }

    /// Group `i` ended with `outcome`.
    mutating func end(_ i: Int, _ outcome: BatchOutcome) {
        switch outcome {
        case .skipped:
            totals[i] = 0
            positions[i] = 0
        case .done:
            positions[i] = totals[i] ?? 0
            totals[i] = positions[i]
        case .failed:
            totals[i] = positions[i]  // what was worked through counts, the rest is not to be done
        }
        settled[i] = true
        ended += 1
    }

    /// Media seconds done of the estimated total; nil while no total is known. Never 100% before
    /// the last group has ended, and exactly 100% once it has.
    func media(elapsedSeconds: Double) -> JobProgress? {
        let all = ended == bytes.count
        var knownSeconds = 0.0, knownBytes: Int64 = 0, unknownBytes: Int64 = 0
        for i in totals.indices {
            if let total = totals[i] {
                knownSeconds += total
                if total > 0 { knownBytes += bytes[i] }
            } else if !settled[i] {
                unknownBytes += bytes[i]
            }
        }
        // Groups not started yet: their size at the seconds per byte seen so far.
        let estimate = knownBytes > 0 ? knownSeconds / Double(knownBytes) * Double(unknownBytes) : 0
        var total = knownSeconds + estimate
        guard total > 0 else { return nil }
        let done = positions.reduce(0, +)
        if !all && done >= total { total = done + 0.001 }
        return JobProgress(mediaSeconds: all ? total : done, totalSeconds: total, elapsedSeconds: elapsedSeconds)
    }
}
