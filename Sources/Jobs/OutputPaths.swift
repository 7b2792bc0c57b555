import Foundation

/// An output (folder, file, lock) that cannot be created, with the path and the reason in words
/// ("Read-only file system", "exists and is not a folder"); exit 73.
public struct CannotCreateOutput: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(_ path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// The reason for `errno` as the C library words it; `ELOOP` from an `O_NOFOLLOW` open says
    /// the path is a symbolic link.
    public init(_ path: String, errno code: Int32) {
        self.init(path, reason: code == ELOOP ? "it is a symbolic link (not followed)" : String(cString: strerror(code)))
    }

    public var description: String { "cannot create \(path): \(reason)" }
}

/// Creates `path` and its missing parents as folders (mode 0755); an existing folder is fine.
/// - Throws: `CannotCreateOutput` naming the first path that could not be made and why.
public func createOutputFolder(_ path: String) throws(CannotCreateOutput) {
    guard !path.isEmpty else { return }
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
        guard isFolder.boolValue else { throw CannotCreateOutput(path, reason: "it exists and is not a folder") }
        return
    }
    let parent = (path as NSString).deletingLastPathComponent
    if !parent.isEmpty, parent != path { try createOutputFolder(parent) }
    guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw CannotCreateOutput(path, errno: errno) }
}

/// A write to an output that failed after it was created (a full disk: "No space left on device"); exit 74.
public struct OutputWriteFailed: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "writing \(path) failed: \(reason)" }
}

/// Writes `bytes` to a new or truncated file at `path`, synced to disk. A symbolic link at `path`
/// is refused (`O_NOFOLLOW`), never followed to overwrite its target.
/// - Throws: `CannotCreateOutput` when it cannot be opened, `OutputWriteFailed` when a write fails.
public func writeNewFile(_ path: String, _ bytes: some Collection<UInt8>) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw CannotCreateOutput(path, errno: errno) }
    defer { close(fd) }
    let array = Array(bytes)
    var done = 0
    while done < array.count {
        let n = array.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        if n < 0, errno == EINTR { continue }
        guard n > 0 else { throw OutputWriteFailed(path: path, reason: String(cString: strerror(n < 0 ? errno : ENOSPC))) }
        done += n
    }
    guard fsync(fd) == 0 else { throw OutputWriteFailed(path: path, reason: String(cString: strerror(errno))) }
}
