import Foundation

/// Finds the last MJR00002 frame of a file from its tail: `MEET` + u32 ms + u16 length + data.
enum MJRTail {
    /// How much of the file's end is read.
    static let window: Int64 = 64 * 1024

    /// The last frame's time (ms after the first packet), or nil when none is found.
    static func lastFrameMillis(path: String, size: Int64) -> Int64? {
        guard size > 18, let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let start = max(0, size - window)
        guard (try? handle.seek(toOffset: UInt64(start))) != nil, let data = try? handle.readToEnd() else { return nil }
        return lastFrameMillis(tail: [UInt8](data))
    }

    /// A frame header counts when its frame ends exactly at the end of the data, or where another
    /// frame header starts (so a truncated last frame still counts, and stray `MEET` bytes in a
    /// payload almost never do).
    static func lastFrameMillis(tail: [UInt8]) -> Int64? {
        let n = tail.count
        guard n >= 10 else { return nil }
        var candidates: [Int] = []
        var p = 0
        while p + 10 <= n {
            if tail[p] == 0x4D, tail[p + 1] == 0x45, tail[p + 2] == 0x45, tail[p + 3] == 0x54 { candidates.append(p) }
            p += 1
        }
        let starts = Set(candidates)
        for p in candidates.reversed() {
            let length = Int(tail[p + 8]) << 8 | Int(tail[p + 9])
            let next = p + 10 + length
            let truncatedLast = next > n && p == candidates.last && length <= 9008
            if length > 0 && (next == n || starts.contains(next) || truncatedLast) {
                return Int64(UInt32(tail[p + 4]) << 24 | UInt32(tail[p + 5]) << 16 | UInt32(tail[p + 6]) << 8 | UInt32(tail[p + 7]))
            }
        }
        return nil
    }
}
