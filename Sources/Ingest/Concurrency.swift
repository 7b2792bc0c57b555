import Foundation

/// Maps `items` on up to one thread per item (Dispatch's pool, bounded by the cores) and returns
/// the results in order; the first error thrown wins.
func concurrentMap<T: Sendable, R: Sendable>(_ items: [T], _ transform: @Sendable (T) throws -> R) throws -> [R] {
    let results = LockedResults<R>(count: items.count)
    DispatchQueue.concurrentPerform(iterations: items.count) { i in
        do { results.set(i, .success(try transform(items[i]))) } catch { results.set(i, .failure(error)) }
    }
    return try results.values()
}

/// Results written by several threads, read once all are done.
private final class LockedResults<R: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<R, any Error>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ result: Result<R, any Error>) {
        lock.lock()
        slots[i] = result
        lock.unlock()
    }

    func values() throws -> [R] {
        lock.lock()
        defer { lock.unlock() }
        return try slots.map { try $0!.get() }
    }
}

/// A bounded queue of batches from one producer thread to one consumer thread. The producer
/// blocks while `capacity` batches wait; the consumer blocks while none do. Either side can end
/// it: the producer with `finish` (optionally with an error, rethrown to the consumer after the
/// queued batches), the consumer with `cancel` (the producer's next `send` returns false).
final class BatchChannel<Element: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var batches: [[Element]] = []
    private var head = 0
    private var finished = false
    private var cancelled = false
    private var failure: (any Error)?
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Queues a batch; false when the consumer has cancelled (the producer should stop).
    func send(_ batch: [Element]) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while batches.count - head >= capacity && !cancelled { condition.wait() }
        guard !cancelled else { return false }
        batches.append(batch)
        condition.broadcast()
        return true
    }

    /// No more batches; `error`, if any, is thrown to the consumer once the queued ones are taken.
    func finish(error: (any Error)? = nil) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch, or nil when the producer finished and everything was taken.
    func receive() throws -> [Element]? {
        condition.lock()
        defer { condition.unlock() }
        while head == batches.count && !finished { condition.wait() }
        if head < batches.count {
            let batch = batches[head]
            batches[head] = []
            head += 1
            if head > 64 {
                batches.removeFirst(head)
                head = 0
            }
            condition.broadcast()
            return batch
        }
        if let failure { throw failure }
        return nil
    }

    /// The consumer stops listening; a blocked producer wakes up and its sends fail from now on.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}
