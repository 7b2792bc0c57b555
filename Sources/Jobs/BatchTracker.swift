import Foundation

/// Where the batch's workers report: collects each group's result and passes every change on to
/// the sink as one ``BatchProgress``, under a lock (so the sink is never called twice at once).
final class BatchTracker: @unchecked Sendable {
    private let lock = NSLock()
    private let started = ContinuousClock.now
    private let sink: (@Sendable (BatchProgress) -> Void)?
    private var tally: BatchProgressTally
    private var slots: [BatchGroupResult?]

    init(groups: [BatchGroup], sink: (@Sendable (BatchProgress) -> Void)?) {
        self.sink = sink
        tally = BatchProgressTally(bytes: groups.map(\.bytes))
        slots = Array(repeating: nil, count: groups.count)
    }

    /// Group `i`'s transcode reported `p`.
    func update(_ i: Int, _ p: JobProgress) {
        lock.withLock {
            tally.update(i, p)
            emit(nil)
        }
    }

    /// Group `i` ended with `result`.
    func end(_ i: Int, _ result: BatchGroupResult) {
        lock.withLock {
            tally.end(i, result.outcome)
            slots[i] = result
            emit(result)
        }
    }

    /// The results in group order; call once every group has ended.
    func results() -> [BatchGroupResult] {
        lock.withLock { slots.map { $0! } }
    }

    private func emit(_ ended: BatchGroupResult?) {
        guard let sink else { return }
        let media = tally.media(elapsedSeconds: (ContinuousClock.now - started).seconds)
        sink(BatchProgress(groupsDone: tally.ended, groupsTotal: slots.count, media: media, ended: ended))
    }
}
