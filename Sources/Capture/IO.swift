#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Buffered, read-only, forward-only access to a file with a bounded window.
///
/// The window starts at `chunkSize` bytes and only grows when a caller asks for a larger
/// contiguous record via `ensure(_:)`; every caller checks a record length against a format
/// limit (at most `maxWindow`) before asking, so memory stays constant in file size.
final class ByteSource {
    static let chunkSize = 64 * 1024
    /// Largest contiguous record any reader may request (pcapng blocks up to 1 MiB + header).
    static let maxWindow = (1 << 20) + 4096

    let path: String
    private var file: UnsafeMutablePointer<FILE>?
    private(set) var buffer: [UInt8]
    /// Window [start, end) of valid bytes in `buffer`.
    private(set) var start = 0
    private(set) var end = 0
    /// File offset of `buffer[start]`.
    private(set) var offset: Int64 = 0
    private var hitEOF = false

    init(path: String) throws(CaptureError) {
        self.path = path
        guard let f = fopen(path, "rb") else {
            let e = errno
            throw CaptureError(path: path, offset: 0, reason: "cannot open for reading: \(String(cString: strerror(e)))")
        }
        var st = stat()
        if fstat(fileno(f), &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            fclose(f)
            throw CaptureError(path: path, offset: 0, reason: "is a directory")
        }
        file = f
        buffer = [UInt8](repeating: 0, count: ByteSource.chunkSize)
    }

    deinit { close() }

    func close() {
        if let f = file { fclose(f) }
        file = nil
    }

    /// Bytes currently available in the window.
    var available: Int { end - start }
    /// Current capacity of the window (bounded by `maxWindow`).
    var capacity: Int { buffer.count }

    /// Makes `n` contiguous bytes available at the window start. False at end of file
    /// (then `available` tells how many bytes were left). `n` must be <= `maxWindow`.
    func ensure(_ n: Int) -> Bool {
        if end - start >= n { return true }
        precondition(n >= 0 && n <= ByteSource.maxWindow, "ByteSource.ensure(\(n)) beyond the bounded window")
        if n > buffer.count {
            // Grow (rarely; bounded by maxWindow).
            var nb = [UInt8](repeating: 0, count: max(n, buffer.count * 2) > ByteSource.maxWindow ? ByteSource.maxWindow : max(n, buffer.count * 2))
            let cnt = end - start
            if cnt > 0 {
                nb.withUnsafeMutableBufferPointer { d in
                    buffer.withUnsafeBufferPointer { s in
                        d.baseAddress!.update(from: s.baseAddress! + start, count: cnt)
                    }
                }
            }
            buffer = nb
            start = 0
            end = cnt
        } else if buffer.count - start < n {
            let cnt = end - start
            if cnt > 0 {
                buffer.withUnsafeMutableBufferPointer { p in
                    let b = p.baseAddress!
                    b.update(from: b + start, count: cnt)
                }
            }
            start = 0
            end = cnt
        }
        guard let f = file else { return false }
        while end - start < n {
            clearerr(f)  // a growing (live) file may have more bytes now
            let cap = buffer.count
            let got = buffer.withUnsafeMutableBufferPointer { p in
                fread(p.baseAddress! + end, 1, cap - end, f)
            }
            if got == 0 { hitEOF = true; return false }
            end += got
        }
        return true
    }

    /// True when no byte is left (after trying to read more).
    func atEnd() -> Bool { !ensure(1) }

    @inline(__always) func u8(_ i: Int) -> UInt8 { buffer[start + i] }
    @inline(__always) func u16be(_ i: Int) -> UInt16 { UInt16(buffer[start + i]) << 8 | UInt16(buffer[start + i + 1]) }
    @inline(__always) func u16le(_ i: Int) -> UInt16 { UInt16(buffer[start + i + 1]) << 8 | UInt16(buffer[start + i]) }
    @inline(__always) func u32be(_ i: Int) -> UInt32 {
        let s = start + i
        return UInt32(buffer[s]) << 24 | UInt32(buffer[s + 1]) << 16 | UInt32(buffer[s + 2]) << 8 | UInt32(buffer[s + 3])
    }
    @inline(__always) func u32le(_ i: Int) -> UInt32 {
        let s = start + i
        return UInt32(buffer[s + 3]) << 24 | UInt32(buffer[s + 2]) << 16 | UInt32(buffer[s + 1]) << 8 | UInt32(buffer[s])
    }
    @inline(__always) func u16(_ i: Int, big: Bool) -> UInt16 { big ? u16be(i) : u16le(i) }
    @inline(__always) func u32(_ i: Int, big: Bool) -> UInt32 { big ? u32be(i) : u32le(i) }

    /// Copies `count` bytes at window position `from` (caller has ensured them).
    func bytes(_ from: Int, _ count: Int) -> [UInt8] {
        Array(buffer[(start + from)..<(start + from + count)])
    }

    func peekBytes(_ count: Int) -> [UInt8] { bytes(0, min(count, available)) }

    /// Runs `body` over `count` ensured bytes starting at the window start.
    func withWindow<R>(_ count: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        buffer.withUnsafeBufferPointer { p in
            body(UnsafeBufferPointer(rebasing: p[start..<(start + count)]))
        }
    }

    /// Drops `n` bytes (already in the window) from the window start.
    func consume(_ n: Int) {
        precondition(n <= end - start)
        start += n
        offset += Int64(n)
        if start == end { start = 0; end = 0 }
    }

    /// Skips `n` bytes, reading through in chunks (no allocation). False if the file ended first;
    /// then everything up to the end has been consumed.
    func skip(_ n: Int64) -> Bool {
        var left = n
        while left > 0 {
            if available == 0 {
                if !ensure(1) { return false }
            }
            let take = Int(min(Int64(available), left))
            consume(take)
            left -= Int64(take)
        }
        return true
    }
}

/// Buffered writer over stdio with explicit flush (and optional fsync) for crash-safe capture.
final class FileSink {
    let path: String
    private var file: UnsafeMutablePointer<FILE>?
    private(set) var written: Int64 = 0
    /// Where the last successful flush left the file, and where each record written since ends:
    /// after a failed write the file is cut back to its last whole record.
    private var flushed: Int64 = 0
    private var recordEnds: [Int64] = []

    init(path: String) throws(CaptureError) {
        self.path = path
        // O_NOFOLLOW: a symbolic link planted at a capture's path is refused, not followed.
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0, let f = fdopen(fd, "wb") else {
            let e = errno
            if fd >= 0 { _ = Glibc.close(fd) }
            throw CaptureError(path: path, offset: 0, reason: "cannot open for writing: "
                               + (e == ELOOP ? "it is a symbolic link (not followed)" : String(cString: strerror(e))))
        }
        file = f
    }

    deinit {
        if let f = file { fclose(f) }
    }

    var isOpen: Bool { file != nil }

    func write(_ bytes: [UInt8]) throws(CaptureError) {
        guard let f = file else { throw CaptureError(path: path, offset: written, reason: "write after close") }
        if bytes.isEmpty { return }
        let n = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress!, 1, $0.count, f) }
        if n != bytes.count {
            let e = errno
            trimToWholeRecords(f)
            throw CaptureError(path: path, offset: written + Int64(n), reason: "write failed: \(String(cString: strerror(e)))")
        }
        written += Int64(n)
        recordEnds.append(written)
    }

    /// After a failed write or flush (a full disk): cuts the file back to the end of its last
    /// whole record on disk and sends whatever stdio still buffers to /dev/null, so the capture
    /// reads back whole, with no cut-off record at its end, and nothing more reaches it.
    private func trimToWholeRecords(_ f: UnsafeMutablePointer<FILE>) {
        let fd = fileno(f)
        var info = stat()
        guard fstat(fd, &info) == 0 else { return }
        let keep = recordEnds.last { $0 <= Int64(info.st_size) } ?? flushed
        _ = ftruncate(fd, off_t(min(keep, Int64(info.st_size))))
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        if null >= 0 {
            _ = dup2(null, fd)
            _ = Glibc.close(null)
        }
        recordEnds.removeAll()
    }

    func flush(sync: Bool) throws(CaptureError) {
        guard let f = file else { throw CaptureError(path: path, offset: written, reason: "flush after close") }
        if fflush(f) != 0 {
            let e = errno
            trimToWholeRecords(f)
            throw CaptureError(path: path, offset: written, reason: "flush failed: \(String(cString: strerror(e)))")
        }
        flushed = written
        recordEnds.removeAll(keepingCapacity: true)
        if sync && fsync(fileno(f)) != 0 {
            let e = errno
            throw CaptureError(path: path, offset: written, reason: "fsync failed: \(String(cString: strerror(e)))")
        }
    }

    /// A second descriptor of the open file (the caller closes it): another thread can fsync
    /// through it while this one goes on writing, and even after this sink is closed.
    func duplicateDescriptor() -> Int32? {
        guard let f = file else { return nil }
        let fd = dup(fileno(f))
        return fd >= 0 ? fd : nil
    }

    func close() throws(CaptureError) {
        guard let f = file else { return }
        file = nil
        if fclose(f) != 0 {
            let e = errno
            throw CaptureError(path: path, offset: written, reason: "close failed: \(String(cString: strerror(e)))")
        }
    }
}

// MARK: - big-endian builders for writers

extension Array where Element == UInt8 {
    @inline(__always) mutating func appendBE16(_ v: UInt16) { append(UInt8(v >> 8)); append(UInt8(v & 0xFF)) }
    @inline(__always) mutating func appendBE32(_ v: UInt32) {
        append(UInt8(v >> 24)); append(UInt8((v >> 16) & 0xFF)); append(UInt8((v >> 8) & 0xFF)); append(UInt8(v & 0xFF))
    }
    @inline(__always) mutating func appendBE64(_ v: UInt64) { appendBE32(UInt32(v >> 32)); appendBE32(UInt32(v & 0xFFFF_FFFF)) }
    @inline(__always) mutating func appendLE16(_ v: UInt16) { append(UInt8(v & 0xFF)); append(UInt8(v >> 8)) }
    @inline(__always) mutating func appendLE32(_ v: UInt32) {
        append(UInt8(v & 0xFF)); append(UInt8((v >> 8) & 0xFF)); append(UInt8((v >> 16) & 0xFF)); append(UInt8(v >> 24))
    }
}
