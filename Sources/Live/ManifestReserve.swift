import Foundation
import Synchronization

/// Disk space set aside at the start of a recording for its last manifests: ``slices`` hidden
/// files of ``sliceBytes`` each, allocated with `posix_fallocate`. When a manifest cannot be
/// written (the disk filled), one slice is deleted and the write tried again, so the manifest says
/// how the recording ended even when the outputs written after it fill the space again. What is
/// left is deleted when the recording finishes.
final class ManifestReserve: Sendable {
    /// 256 KiB: a manifest with a hundred connections is about 100 KB (a larger one takes several).
    static let sliceBytes = 256 << 10
    /// The stop's manifest, the one saying the outputs failed, and one spare.
    static let slices = 3
    let path: String
    /// Slices still held, by index.
    private let held = Mutex<[Int]>([])

    init(path: String) {
        self.path = path
        var made: [Int] = []
        for index in 0..<Self.slices {
            let slice = "\(path).\(index)"
            let fd = open(slice, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { break }
            let allocated = posix_fallocate(fd, 0, off_t(Self.sliceBytes)) == 0
            close(fd)
            guard allocated else {
                unlink(slice)
                break
            }
            made.append(index)
        }
        held.withLock { $0 = made }
    }

    /// The slices an interrupted recording left at `path`, to give back.
    init(existingAt path: String) {
        self.path = path
        held.withLock { $0 = (0..<Self.slices).filter { access("\(path).\($0)", F_OK) == 0 } }
    }

    /// Gives one slice back; returns whether there was one.
    @discardableResult
    func release() -> Bool {
        guard let index = held.withLock({ $0.popLast() }) else { return false }
        unlink("\(path).\(index)")
        return true
    }

    /// Gives every slice back (the recording finished, or never started).
    func releaseAll() {
        while release() {}
    }
}
