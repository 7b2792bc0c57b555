import Foundation
import Synchronization

/// The phase a live recording is in, as `flowrec_state{state=…}` shows it.
public enum RecordingState: String, Sendable, CaseIterable {
    case recording
    case writingOutputs = "writing_outputs"
    case done
}

/// What a record job counted so far, handed to ``RecordingMetrics/update(_:)`` (about once a second).
///
/// Counters are totals since the recording started, over every peer session (the finished ones
/// included); a value smaller than the one already reported is ignored, so a counter never goes back.
public struct MetricsSnapshot: Sendable, Equatable {
    /// Publishers currently connected (a gauge).
    public var participants = 0
    public var rtpPackets = 0
    public var rtcpPackets = 0
    /// Packets lost on arrival (before NACK repairs).
    public var lostPackets = 0
    /// Sequence numbers asked for again by NACK.
    public var nackedPackets = 0
    /// Lost packets that a retransmission (RTX or plain) repaired.
    public var repairedPackets = 0
    public var pliSent = 0
    public var srtpAuthFailures = 0
    /// Transport-cc feedback packets sent.
    public var transportFeedbackSent = 0
    /// Bytes written to the raw captures.
    public var captureBytes = 0
    /// Composite video frames encoded and dropped while writing the outputs.
    public var framesEncoded = 0
    public var framesDropped = 0
    /// Media seconds of the outputs written so far; over the wall time since the outputs began
    /// (the start, when they are made while recording; else `setState(.writingOutputs)`) it gives
    /// `flowrec_realtime_factor`.
    public var outputMediaSeconds = 0.0
    /// Packets waiting for the outputs made while recording.
    public var outputQueuedPackets = 0
    /// Freezes of the participants' recorded pictures (see `VideoLayerSelector`), and the longest.
    public var videoFreezes = 0
    public var longestFreezeSeconds = 0.0
    /// The first capture write that failed (not a metric: it stops the recording).
    public var captureFailure: String?

    public init() {}

    /// Adds one peer session's packet counters (not `participants`, `captureBytes` nor the output fields).
    public mutating func add(_ session: PeerSessionSummary) {
        rtpPackets += session.rtpPackets
        rtcpPackets += session.rtcpPackets
        lostPackets += max(0, session.lostPackets)
        nackedPackets += session.nackedPackets
        repairedPackets += session.repairedPackets
        pliSent += session.pliSent
        srtpAuthFailures += session.srtpAuthFailures
        transportFeedbackSent += session.transportFeedbackSent ?? 0
        if captureFailure == nil, let failed = session.captures.first(where: { $0.failure != nil }) {
            captureFailure = "\(failed.path): \(failed.failure ?? "")"
        }
    }
}

/// One recording's metrics for `--metrics`: updated by the record job, rendered in the Prometheus
/// text exposition format (0.0.4) by ``MetricsServer`` at every scrape. Every method is cheap
/// (one lock) and safe from any thread.
public final class RecordingMetrics: Sendable {
    /// The `room` label of every `flowrec_` sample.
    public let room: String
    /// Seconds on a monotonic clock (injectable for tests).
    private let clock: @Sendable () -> Double
    private let values: Mutex<Values>

    private struct Values {
        var snapshot = MetricsSnapshot()
        var state = RecordingState.recording
        var failure: String?
        var recordingStarted: Double
        var recordingEnded: Double?
        var writingStarted: Double?
        var writingEnded: Double?
        var outputsBegan: Double?
    }

    /// The outputs are being made while recording, from now on: `flowrec_realtime_factor` counts from here.
    public func outputsBegin() {
        let now = clock()
        values.withLock { $0.outputsBegan = $0.outputsBegan ?? now }
    }

    /// The recording starts now (for `flowrec_recording_seconds`), in state `.recording`.
    public convenience init(room: String) {
        self.init(room: room, clock: { Double(LiveClock.monotonicMicros()) / 1_000_000 })
    }

    init(room: String, clock: @escaping @Sendable () -> Double) {
        self.room = room
        self.clock = clock
        values = Mutex(Values(recordingStarted: clock()))
    }

    /// The job's latest counts. Counters only move forward (see ``MetricsSnapshot``).
    public func update(_ snapshot: MetricsSnapshot) {
        values.withLock { v in
            let old = v.snapshot
            v.snapshot = MetricsSnapshot()
            v.snapshot.participants = max(0, snapshot.participants)
            v.snapshot.rtpPackets = max(old.rtpPackets, snapshot.rtpPackets)
            v.snapshot.rtcpPackets = max(old.rtcpPackets, snapshot.rtcpPackets)
            v.snapshot.lostPackets = max(old.lostPackets, snapshot.lostPackets)
            v.snapshot.nackedPackets = max(old.nackedPackets, snapshot.nackedPackets)
            v.snapshot.repairedPackets = max(old.repairedPackets, snapshot.repairedPackets)
            v.snapshot.pliSent = max(old.pliSent, snapshot.pliSent)
            v.snapshot.srtpAuthFailures = max(old.srtpAuthFailures, snapshot.srtpAuthFailures)
            v.snapshot.transportFeedbackSent = max(old.transportFeedbackSent, snapshot.transportFeedbackSent)
            v.snapshot.captureBytes = max(old.captureBytes, snapshot.captureBytes)
            v.snapshot.framesEncoded = max(old.framesEncoded, snapshot.framesEncoded)
            v.snapshot.framesDropped = max(old.framesDropped, snapshot.framesDropped)
            v.snapshot.videoFreezes = max(old.videoFreezes, snapshot.videoFreezes)
            v.snapshot.longestFreezeSeconds = max(old.longestFreezeSeconds, snapshot.longestFreezeSeconds)
            v.snapshot.outputMediaSeconds = max(0, snapshot.outputMediaSeconds)
            v.snapshot.outputQueuedPackets = max(0, snapshot.outputQueuedPackets)
        }
    }

    /// Moves to `state`. Leaving `.recording` freezes `flowrec_recording_seconds`; the time in
    /// `.writingOutputs` is the wall time of `flowrec_realtime_factor`.
    public func setState(_ state: RecordingState) {
        let now = clock()
        values.withLock { v in
            v.state = state
            if state != .recording, v.recordingEnded == nil { v.recordingEnded = now }
            if state == .writingOutputs, v.writingStarted == nil { v.writingStarted = now }
            if state == .done, v.writingStarted != nil, v.writingEnded == nil { v.writingEnded = now }
        }
    }

    /// The recording failed: `/health` answers 503 with `reason` and `flowrec_up` becomes 0 from now
    /// on (the first reason is kept).
    public func markFailed(_ reason: String) {
        values.withLock { v in
            if v.failure == nil { v.failure = reason }
        }
    }

    /// nil while healthy, else why the recording failed.
    public var failure: String? { values.withLock { $0.failure } }

    public var state: RecordingState { values.withLock { $0.state } }

    /// The exposition text, with the process metrics read from /proc now.
    public func exposition() -> String {
        render(process: ProcessStats.current())
    }

    /// The exposition text with the given process metrics (the ones that are nil are left out).
    func render(process: ProcessStats) -> String {
        let now = clock()
        let v = values.withLock { $0 }
        let s = v.snapshot
        let room = [("room", self.room)]
        var text = PrometheusText()

        text.family("flowrec_up", .gauge, help: "1 while the recording is healthy, 0 once it failed.")
        text.sample("flowrec_up", labels: room, v.failure == nil ? 1 : 0)
        text.family("flowrec_state", .gauge, help: "The recording's phase: 1 for the current state, 0 for the others.")
        for state in RecordingState.allCases {
            text.sample("flowrec_state", labels: room + [("state", state.rawValue)], state == v.state ? 1 : 0)
        }
        text.family("flowrec_recording_seconds", .gauge, help: "Seconds recorded so far (frozen once the recording stops).")
        text.sample("flowrec_recording_seconds", labels: room, max(0, (v.recordingEnded ?? now) - v.recordingStarted))
        text.family("flowrec_participants", .gauge, help: "Publishers currently connected.")
        text.sample("flowrec_participants", labels: room, s.participants)

        let counters: [(String, String, Int)] = [
            ("flowrec_rtp_packets_total", "RTP packets received.", s.rtpPackets),
            ("flowrec_rtcp_packets_total", "RTCP packets received.", s.rtcpPackets),
            ("flowrec_packets_lost_total", "RTP packets lost on arrival, before retransmissions.", s.lostPackets),
            ("flowrec_nack_packets_total", "RTP packets requested again by NACK.", s.nackedPackets),
            ("flowrec_rtx_repaired_packets_total", "Lost RTP packets repaired by a retransmission.", s.repairedPackets),
            ("flowrec_pli_sent_total", "Picture loss indications sent.", s.pliSent),
            ("flowrec_transport_feedback_sent_total", "Transport-cc feedback packets sent.", s.transportFeedbackSent),
            ("flowrec_srtp_auth_failures_total", "SRTP/SRTCP packets dropped for failed authentication or replay.", s.srtpAuthFailures),
            ("flowrec_capture_bytes_total", "Bytes written to the raw captures.", s.captureBytes),
            ("flowrec_frames_encoded_total", "Composite video frames encoded.", s.framesEncoded),
            ("flowrec_frames_dropped_total", "Composite video frames dropped.", s.framesDropped),
            ("flowrec_video_freezes_total", "Freezes of the participants' recorded pictures (no frame for over 3 frame intervals while media kept coming).", s.videoFreezes),
        ]
        for (name, help, value) in counters {
            text.family(name, .counter, help: help)
            text.sample(name, labels: room, value)
        }

        var factor = 0.0
        if let started = v.outputsBegan ?? v.writingStarted {
            let wall = (v.writingEnded ?? now) - started
            if wall > 0 { factor = s.outputMediaSeconds / wall }
        }
        text.family("flowrec_realtime_factor", .gauge,
                    help: "Media seconds written per wall second since the outputs began (about 1 while they are made live; 0 before).")
        text.sample("flowrec_realtime_factor", labels: room, factor)
        text.family("flowrec_output_queue_packets", .gauge, help: "Packets waiting for the outputs made while recording.")
        text.sample("flowrec_output_queue_packets", labels: room, s.outputQueuedPackets)
        text.family("flowrec_video_longest_freeze_seconds", .gauge, help: "The longest freeze of a participant's recorded picture so far.")
        text.sample("flowrec_video_longest_freeze_seconds", labels: room, s.longestFreezeSeconds)

        if let resident = process.residentMemoryBytes {
            text.family("process_resident_memory_bytes", .gauge, help: "Resident memory size in bytes.")
            text.sample("process_resident_memory_bytes", labels: [], resident)
        }
        if let cpu = process.cpuSeconds {
            text.family("process_cpu_seconds_total", .counter, help: "Total user and system CPU time spent in seconds.")
            text.sample("process_cpu_seconds_total", labels: [], cpu)
        }
        return text.text
    }
}

/// The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` before each family's
/// samples, label values escaped, one sample a line, a final newline.
struct PrometheusText {
    enum MetricType: String {
        case counter, gauge
    }

    /// The `Content-Type` of the text.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private(set) var text = ""

    mutating func family(_ name: String, _ type: MetricType, help: String) {
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type.rawValue)\n"
    }

    mutating func sample(_ name: String, labels: [(String, String)], _ value: Int) {
        sample(name, labels: labels, value: String(value))
    }

    mutating func sample(_ name: String, labels: [(String, String)], _ value: Double) {
        sample(name, labels: labels, value: Self.format(value))
    }

    private mutating func sample(_ name: String, labels: [(String, String)], value: String) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escapeLabelValue($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " " + value + "\n"
    }

    /// `\` → `\\`, `"` → `\"`, line feed → `\n`.
    static func escapeLabelValue(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for c in value.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// `\` → `\\`, line feed → `\n` (quotes stay as they are in HELP text).
    static func escapeHelp(_ help: String) -> String {
        help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Integral values without a fraction, `+Inf`, `-Inf`, `NaN` as Prometheus spells them.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}

/// This process's resident memory and CPU time, from /proc (nil where there is no /proc).
public struct ProcessStats: Sendable, Equatable {
    public var residentMemoryBytes: Int?
    public var cpuSeconds: Double?

    public init(residentMemoryBytes: Int?, cpuSeconds: Double?) {
        self.residentMemoryBytes = residentMemoryBytes
        self.cpuSeconds = cpuSeconds
    }

    /// Read now: /proc/self/statm's resident pages × the page size; /proc/self/stat's utime + stime
    /// over the clock ticks per second.
    public static func current() -> ProcessStats {
        let pageSize = sysconf(Int32(_SC_PAGESIZE))
        let ticks = sysconf(Int32(_SC_CLK_TCK))
        return ProcessStats(
            residentMemoryBytes: readSmallFile("/proc/self/statm").flatMap { residentBytes(statm: $0, pageSize: pageSize) },
            cpuSeconds: readSmallFile("/proc/self/stat").flatMap { cpuSeconds(stat: $0, ticksPerSecond: ticks) })
    }

    /// `size resident shared …` in pages.
    static func residentBytes(statm: String, pageSize: Int) -> Int? {
        let fields = statm.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard pageSize > 0, fields.count >= 2, let pages = Int(fields[1]), pages >= 0 else { return nil }
        return pages * pageSize
    }

    /// `pid (comm) state ppid …`: utime and stime are fields 14 and 15; `comm` may hold spaces and
    /// parentheses, so fields are counted from the last `)`.
    static func cpuSeconds(stat: String, ticksPerSecond: Int) -> Double? {
        guard ticksPerSecond > 0, let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(whereSeparator: { $0 == " " || $0 == "\n" })
        // fields[0] is field 3 (state).
        guard fields.count > 12, let utime = Int(fields[11]), let stime = Int(fields[12]) else { return nil }
        return Double(utime + stime) / Double(ticksPerSecond)
    }

    /// A /proc file (whose reported size is 0) read to its end, up to `limit` bytes.
    static func readSmallFile(_ path: String, limit: Int = 8192) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: limit)
        var count = 0
        while count < limit {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, limit - count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            count += n
        }
        return String(decoding: bytes[..<count], as: UTF8.self)
    }
}
