import Foundation

/// A bounded pool of threads of their own (not the concurrency pool: a transcode blocks on I/O
/// and runs deep, hence the 8 MiB stacks).
enum WorkerPool {
    /// Calls `body` once for each index in `0..<count`, in order of index, on up to `width`
    /// threads named `<name>-<n>`; returns when every call has returned.
    static func run(count: Int, width: Int, name: String, stackSize: Int = 8 << 20, _ body: @escaping @Sendable (Int) -> Void) {
        let work = WorkList(count: count)
        let finished = DispatchGroup()
        for worker in 0..<min(max(1, width), count) {
            finished.enter()
            let thread = Thread {
                while let i = work.take() { body(i) }
                finished.leave()
            }
            thread.name = "\(name)-\(worker)"
            thread.stackSize = stackSize
            thread.start()
        }
        finished.wait()
    }
}

/// Hands out the indices to the workers, each once.
private final class WorkList: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private let count: Int

    init(count: Int) { self.count = count }

    func take() -> Int? {
        lock.withLock {
            guard next < count else { return nil }
            next += 1
            return next - 1
        }
    }
}
