import Foundation

/// Groups the files `--batch` found into ``BatchGroup``s, sans-IO.
///
/// Grouping rule:
/// - Files named `videoroom-<room>-user-<id>-<µs>-<kind>[-<mindex>].mjr` are grouped by room; within
///   a room, each file spans from the start in its name to its last frame (read from the file's
///   tail). Sorted by start, a file joins the current session when it starts at most
///   ``sessionGapMicros`` (10 minutes) after the latest end seen so far in that
///   session; otherwise it starts a new session. A whole meeting stays together however late
///   someone joins, and meetings more than 10 minutes apart are separate.
/// - Every other capture file (pcap, pcapng, rtpdump, `.mjr` not named by the videoroom) makes one
///   group per folder, named after the folder.
/// - A group writes `OUTDIR/<room>-<UTC start, yyyyMMdd'T'HHmmss'Z'>.webm` (and, with tracks,
///   `.<participant>.webm` beside it); a name two groups would share gets `-2`, `-3`, ….
public enum BatchGrouping {
    /// Files of one room starting within this of the session's latest media are the same session.
    public static let sessionGapMicros: Int64 = 10 * 60 * 1_000_000

    /// Groups `files`, in order of start time (then name).
    public static func groups(_ files: [BatchInputFile], gapMicros: Int64 = sessionGapMicros) -> [BatchGroup] {
        var byRoom: [String: [BatchInputFile]] = [:]
        var byFolder: [String: [BatchInputFile]] = [:]
        for file in files {
            if let janus = file.janus {
                byRoom[janus.room, default: []].append(file)
            } else {
                byFolder[(file.path as NSString).deletingLastPathComponent, default: []].append(file)
            }
        }
        var groups: [BatchGroup] = []
        for (room, roomFiles) in byRoom {
            groups += sessions(roomFiles, gapMicros: gapMicros).map { BatchGroup(label: room, room: room, files: $0) }
        }
        for (folder, folderFiles) in byFolder {
            groups.append(BatchGroup(label: label(ofFolder: folder), room: nil, files: folderFiles.sorted { $0.path < $1.path }))
        }
        groups.sort { ($0.startMicros ?? Int64.max, $0.name, $0.inputs.first ?? "") < ($1.startMicros ?? Int64.max, $1.name, $1.inputs.first ?? "") }
        makeNamesUnique(&groups)
        return groups
    }

    /// One room's files split into sessions, each sorted by start (then path).
    static func sessions(_ roomFiles: [BatchInputFile], gapMicros: Int64) -> [[BatchInputFile]] {
        let sorted = roomFiles.sorted { ($0.startMicros ?? 0, $0.path) < ($1.startMicros ?? 0, $1.path) }
        var sessions: [[BatchInputFile]] = []
        var session: [BatchInputFile] = []
        var sessionEnd = Int64.min
        for file in sorted {
            let start = file.startMicros ?? 0
            if !session.isEmpty && start > sessionEnd &+ gapMicros {
                sessions.append(session)
                session = []
            }
            session.append(file)
            sessionEnd = session.count == 1 ? file.spanEndMicros : max(sessionEnd, file.spanEndMicros)
        }
        if !session.isEmpty { sessions.append(session) }
        return sessions
    }

    /// The name a folder of other captures gives its group: its last component, without the
    /// `.capture` of flowrec's own live captures (`<base>.capture/` is the recording `<base>`).
    static func label(ofFolder folder: String) -> String {
        var label = (folder as NSString).lastPathComponent
        if label.hasSuffix(".capture") && label.count > ".capture".count { label = String(label.dropLast(".capture".count)) }
        if label.isEmpty || label == "." || label == "/" { label = "captures" }
        return label
    }

    /// Two groups must never write the same files: a name taken already gets `-2`, `-3`, … (in order).
    static func makeNamesUnique(_ groups: inout [BatchGroup]) {
        var used: [String: Int] = [:]
        for i in groups.indices {
            let base = groups[i].name
            if let count = used[base] {
                var n = count + 1
                while used["\(base)-\(n)"] != nil { n += 1 }
                used[base] = n
                groups[i].name = "\(base)-\(n)"
                used[groups[i].name] = 1
            } else {
                used[base] = 1
            }
        }
    }

    /// `yyyyMMdd'T'HHmmss'Z'` of a Unix time in µs.
    public static func utcStamp(_ micros: Int64) -> String {
        var seconds = time_t(micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }
}
