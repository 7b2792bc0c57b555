import Foundation
import Ingest
import Jobs

/// An exclusive lock on a file (`flock`), held for the life of the process: two runs recording
/// the same room (an overlapping cron start) cannot both hold it. The holder's pid is written into
/// the file for the refusal message. The kernel releases it however the process ends.
final class RecordingLock: Sendable {
    let path: String
    private let descriptor: Int32

    init(path: String) throws {
        self.path = path
        // O_NOFOLLOW: a symbolic link planted at the lock's path must not make flowrec write its pid
        // into the link's target.
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw CannotCreateOutput(path, errno: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            throw CannotStart(kind: .locked, description: "\(path) is held by another flowrec run" + (holder.isEmpty ? "" : " (pid \(holder))")
                              + "; not recording the same room twice")
        }
        _ = ftruncate(fd, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { write(fd, $0, strlen($0)) }
        descriptor = fd
    }

    deinit { close(descriptor) }
}

/// Output names from a template: `{room}`, `{start}` (UTC `%Y%m%dT%H%M%SZ`) and `{start:FORMAT}`
/// (any strftime format, UTC). The result is made safe as a file name (``safeFileName(_:)``).
public enum NameTemplate {
    public static func expand(_ template: String, room: String, start: Date) -> String {
        var out = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else {
                out += rest[open...]
                rest = ""
                break
            }
            let field = rest[rest.index(after: open)..<close]
            if field == "room" {
                out += safeFileName(room)  // at most 64 characters: a long room name cannot push {start} out
            } else if field == "start" {
                out += utc(start, "%Y%m%dT%H%M%SZ")
            } else if field.hasPrefix("start:") {
                out += utc(start, String(field.dropFirst(6)))
            } else {
                out += rest[open...close]
            }
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        return safeFileName(out, maxLength: 200)
    }

    private static func utc(_ date: Date, _ format: String) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 256)
        let count = strftime(&buffer, buffer.count, format, &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
