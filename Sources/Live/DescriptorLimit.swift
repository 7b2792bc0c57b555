#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's file-descriptor limit (`RLIMIT_NOFILE`), and how many of them the WHIP server's
/// HTTP connections may take. Under systemd's default soft limit of 1,024, 1,100 idle TCP
/// connections used to take every descriptor: `/health` stopped answering, a new publisher's socket
/// could not be opened, and libdispatch could crash the process.
public enum DescriptorLimit {
    /// Descriptors the process keeps for itself whatever the room: standard streams, the event
    /// loops' epoll and eventfd, the lock, manifest and composite files, the metrics server's
    /// connections (64 at most), log and hook pipes.
    public static let reservedForTheProcess = 192
    /// Descriptors one publisher can hold at once: its UDP socket, its capture and the capture's
    /// syncing duplicate, its track file and the next segment's, and slack.
    public static let reservedPerParticipant = 12
    /// The most HTTP connections given to WHIP, however high the limit.
    public static let maxHTTPConnections = 4_096
    /// Fewer connections than this leave too little room for real publishers: said at the start.
    public static let lowHTTPConnections = 64

    /// Raises the soft limit to the hard limit (what an unprivileged process may do) and returns
    /// both as they are afterwards, and the soft limit before.
    public static func raiseToHard() -> (before: Int, soft: Int, hard: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (1_024, 1_024, 1_024) }
        let before = Int(clamping: limit.rlim_cur)
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return (before, Int(clamping: limit.rlim_cur), Int(clamping: limit.rlim_max))
    }

    /// The HTTP connections WHIP may hold under a soft limit of `limit` with up to `participants`
    /// publishers: three quarters of what the process and the publishers leave, at least 16 and
    /// at most ``maxHTTPConnections``. 1,024 descriptors and 16 publishers give 480.
    public static func httpConnectionBudget(limit: Int, participants: Int) -> Int {
        let free = limit - reservedForTheProcess - participants * reservedPerParticipant
        return max(16, min(maxHTTPConnections, free * 3 / 4))
    }
}
