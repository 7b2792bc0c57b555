import Foundation
import Synchronization
import Testing
@testable import Live

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let seconds: Mutex<Double>
    init(_ start: Double) { seconds = Mutex(start) }
    func set(_ value: Double) { seconds.withLock { $0 = value } }
    var read: @Sendable () -> Double { { self.seconds.withLock { $0 } } }
}

/// Every family `RecordingMetrics` writes, with its type.
let expectedFamilies: [String: String] = [
    "flowrec_up": "gauge", "flowrec_state": "gauge", "flowrec_recording_seconds": "gauge", "flowrec_participants": "gauge",
    "flowrec_rtp_packets_total": "counter", "flowrec_rtcp_packets_total": "counter", "flowrec_packets_lost_total": "counter",
    "flowrec_nack_packets_total": "counter", "flowrec_rtx_repaired_packets_total": "counter", "flowrec_pli_sent_total": "counter",
    "flowrec_transport_feedback_sent_total": "counter", "flowrec_video_freezes_total": "counter", "flowrec_video_longest_freeze_seconds": "gauge",
    "flowrec_srtp_auth_failures_total": "counter", "flowrec_capture_bytes_total": "counter",
    "flowrec_frames_encoded_total": "counter", "flowrec_frames_dropped_total": "counter", "flowrec_realtime_factor": "gauge",
    "flowrec_output_queue_packets": "gauge",
    "process_resident_memory_bytes": "gauge", "process_cpu_seconds_total": "counter",
]

/// Checks that every expected family appears exactly once, with HELP and TYPE, its samples
/// labelled with `room` (the flowrec_ ones); returns the families by name.
func checkFamilies(_ text: String, room: String) throws -> [String: ParsedFamily] {
    let families = try parseExposition(text)
    #expect(families.map(\.name).sorted() == expectedFamilies.keys.sorted())
    #expect(Set(families.map(\.name)).count == families.count)
    for family in families {
        #expect(family.help?.isEmpty == false, "\(family.name) has no HELP")
        #expect(family.type == expectedFamilies[family.name], "\(family.name) is \(family.type ?? "untyped")")
        #expect((family.type == "counter") == family.name.hasSuffix("_total"), "\(family.name)")
        #expect(!family.samples.isEmpty, "\(family.name) has no sample")
        for sample in family.samples {
            if family.name.hasPrefix("flowrec_") {
                #expect(sample.labels["room"] == room, "\(family.name): \(sample.labels)")
            } else {
                #expect(sample.labels.isEmpty, "\(family.name): \(sample.labels)")
            }
            #expect(sample.value.isFinite && sample.value >= 0, "\(family.name) = \(sample.value)")
        }
    }
    return Dictionary(uniqueKeysWithValues: families.map { ($0.name, $0) })
}

@Suite struct RecordingMetricsTests {
    static let oddRoom = "a\\b\"c\nd"

    /// The golden text: a recording with an awkward room name, 100 s recorded, then 10 s writing 25 s of media.
    @Test func goldenExposition() throws {
        let clock = ManualClock(1000)
        let metrics = RecordingMetrics(room: Self.oddRoom, clock: clock.read)
        var snapshot = MetricsSnapshot()
        snapshot.participants = 3
        snapshot.rtpPackets = 12345
        snapshot.rtcpPackets = 678
        snapshot.lostPackets = 9
        snapshot.nackedPackets = 7
        snapshot.repairedPackets = 5
        snapshot.pliSent = 2
        snapshot.transportFeedbackSent = 40
        snapshot.videoFreezes = 2
        snapshot.longestFreezeSeconds = 1.5
        snapshot.srtpAuthFailures = 1
        snapshot.captureBytes = 9_876_543
        metrics.update(snapshot)
        clock.set(1100)
        metrics.setState(.writingOutputs)
        snapshot.participants = 0
        snapshot.framesEncoded = 750
        snapshot.framesDropped = 3
        snapshot.outputMediaSeconds = 25
        metrics.update(snapshot)
        clock.set(1110)

        let text = metrics.render(process: ProcessStats(residentMemoryBytes: 1_048_576, cpuSeconds: 1.25))
        let room = #"room="a\\b\"c\nd""#
        let golden = #"""
            # HELP flowrec_up 1 while the recording is healthy, 0 once it failed.
            # TYPE flowrec_up gauge
            flowrec_up{ROOM} 1
            # HELP flowrec_state The recording's phase: 1 for the current state, 0 for the others.
            # TYPE flowrec_state gauge
            flowrec_state{ROOM,state="recording"} 0
            flowrec_state{ROOM,state="writing_outputs"} 1
            flowrec_state{ROOM,state="done"} 0
            # HELP flowrec_recording_seconds Seconds recorded so far (frozen once the recording stops).
            # TYPE flowrec_recording_seconds gauge
            flowrec_recording_seconds{ROOM} 100
            # HELP flowrec_participants Publishers currently connected.
            # TYPE flowrec_participants gauge
            flowrec_participants{ROOM} 0
            # HELP flowrec_rtp_packets_total RTP packets received.
            # TYPE flowrec_rtp_packets_total counter
            flowrec_rtp_packets_total{ROOM} 12345
            # HELP flowrec_rtcp_packets_total RTCP packets received.
            # TYPE flowrec_rtcp_packets_total counter
            flowrec_rtcp_packets_total{ROOM} 678
            # HELP flowrec_packets_lost_total RTP packets lost on arrival, before retransmissions.
            # TYPE flowrec_packets_lost_total counter
            flowrec_packets_lost_total{ROOM} 9
            # HELP flowrec_nack_packets_total RTP packets requested again by NACK.
            # TYPE flowrec_nack_packets_total counter
            flowrec_nack_packets_total{ROOM} 7
            # HELP flowrec_rtx_repaired_packets_total Lost RTP packets repaired by a retransmission.
            # TYPE flowrec_rtx_repaired_packets_total counter
            flowrec_rtx_repaired_packets_total{ROOM} 5
            # HELP flowrec_pli_sent_total Picture loss indications sent.
            # TYPE flowrec_pli_sent_total counter
            flowrec_pli_sent_total{ROOM} 2
            # HELP flowrec_transport_feedback_sent_total Transport-cc feedback packets sent.
            # TYPE flowrec_transport_feedback_sent_total counter
            flowrec_transport_feedback_sent_total{ROOM} 40
            # HELP flowrec_srtp_auth_failures_total SRTP/SRTCP packets dropped for failed authentication or replay.
            # TYPE flowrec_srtp_auth_failures_total counter
            flowrec_srtp_auth_failures_total{ROOM} 1
            # HELP flowrec_capture_bytes_total Bytes written to the raw captures.
            # TYPE flowrec_capture_bytes_total counter
            flowrec_capture_bytes_total{ROOM} 9876543
            # HELP flowrec_frames_encoded_total Composite video frames encoded.
            # TYPE flowrec_frames_encoded_total counter
            flowrec_frames_encoded_total{ROOM} 750
            # HELP flowrec_frames_dropped_total Composite video frames dropped.
            # TYPE flowrec_frames_dropped_total counter
            flowrec_frames_dropped_total{ROOM} 3
            # HELP flowrec_video_freezes_total Freezes of the participants' recorded pictures (no frame for over 3 frame intervals while media kept coming).
            # TYPE flowrec_video_freezes_total counter
            flowrec_video_freezes_total{ROOM} 2
            # HELP flowrec_realtime_factor Media seconds written per wall second since the outputs began (about 1 while they are made live; 0 before).
            # TYPE flowrec_realtime_factor gauge
            flowrec_realtime_factor{ROOM} 2.5
            # HELP flowrec_output_queue_packets Packets waiting for the outputs made while recording.
            # TYPE flowrec_output_queue_packets gauge
            flowrec_output_queue_packets{ROOM} 0
            # HELP flowrec_video_longest_freeze_seconds The longest freeze of a participant's recorded picture so far.
            # TYPE flowrec_video_longest_freeze_seconds gauge
            flowrec_video_longest_freeze_seconds{ROOM} 1.5
            # HELP process_resident_memory_bytes Resident memory size in bytes.
            # TYPE process_resident_memory_bytes gauge
            process_resident_memory_bytes 1048576
            # HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
            # TYPE process_cpu_seconds_total counter
            process_cpu_seconds_total 1.25

            """#.replacingOccurrences(of: "ROOM", with: room)
        #expect(text == golden)

        // Read back: the label value comes back as it was.
        let families = try checkFamilies(text, room: Self.oddRoom)
        #expect(families["flowrec_state"]?.samples.map { $0.labels["state"] ?? "" } == ["recording", "writing_outputs", "done"])
    }

    @Test func escaping() {
        #expect(PrometheusText.escapeLabelValue(#"plain-Name_1 é"#) == "plain-Name_1 é")
        #expect(PrometheusText.escapeLabelValue("a\\b\"c\nd") == #"a\\b\"c\nd"#)
        #expect(PrometheusText.escapeLabelValue("\\n") == #"\\n"#)
        #expect(PrometheusText.escapeHelp("back\\slash \"quoted\"\nnext") == #"back\\slash "quoted"\nnext"#)
    }

    @Test func numbers() {
        #expect(PrometheusText.format(0) == "0")
        #expect(PrometheusText.format(-0.0) == "0")
        #expect(PrometheusText.format(3) == "3")
        #expect(PrometheusText.format(0.5) == "0.5")
        #expect(PrometheusText.format(1e20) == "1e+20")
        #expect(PrometheusText.format(.infinity) == "+Inf")
        #expect(PrometheusText.format(-.infinity) == "-Inf")
        #expect(PrometheusText.format(.nan) == "NaN")
        #expect(Double(PrometheusText.format(1e-7)) == 1e-7)
    }

    @Test func countersNeverGoBackGaugesDo() throws {
        let metrics = RecordingMetrics(room: "r", clock: ManualClock(0).read)
        var snapshot = MetricsSnapshot()
        snapshot.participants = 4
        snapshot.rtpPackets = 100
        snapshot.captureBytes = 5000
        metrics.update(snapshot)
        snapshot.participants = 1
        snapshot.rtpPackets = 40 // e.g. a session dropped out of the sum
        snapshot.captureBytes = 6000
        metrics.update(snapshot)
        let families = try checkFamilies(metrics.render(process: ProcessStats(residentMemoryBytes: 1, cpuSeconds: 0)), room: "r")
        #expect(families["flowrec_participants"]?.samples.first?.value == 1)
        #expect(families["flowrec_rtp_packets_total"]?.samples.first?.value == 100)
        #expect(families["flowrec_capture_bytes_total"]?.samples.first?.value == 6000)
    }

    @Test func realtimeFactorWhileTheOutputsAreMadeLive() throws {
        let clock = ManualClock(10)
        let metrics = RecordingMetrics(room: "r", clock: clock.read)
        metrics.outputsBegin()
        var snapshot = MetricsSnapshot()
        snapshot.outputMediaSeconds = 18
        snapshot.outputQueuedPackets = 42
        metrics.update(snapshot)
        clock.set(30)
        let families = try checkFamilies(metrics.render(process: ProcessStats(residentMemoryBytes: 1, cpuSeconds: 0)), room: "r")
        #expect(families["flowrec_realtime_factor"]?.samples.first?.value == 0.9)
        #expect(families["flowrec_output_queue_packets"]?.samples.first?.value == 42)
    }

    @Test func statesTimesAndFailure() throws {
        let clock = ManualClock(50)
        let metrics = RecordingMetrics(room: "r", clock: clock.read)
        let process = ProcessStats(residentMemoryBytes: 1, cpuSeconds: 0)
        func value(_ name: String, state: String? = nil) throws -> Double? {
            let families = try checkFamilies(metrics.render(process: process), room: "r")
            return families[name]?.samples.first { state == nil || $0.labels["state"] == state }?.value
        }
        clock.set(80)
        #expect(try value("flowrec_recording_seconds") == 30)
        #expect(try value("flowrec_realtime_factor") == 0)
        #expect(try value("flowrec_state", state: "recording") == 1)
        #expect(try value("flowrec_up") == 1)
        #expect(metrics.state == .recording)

        metrics.setState(.writingOutputs)
        var snapshot = MetricsSnapshot()
        snapshot.outputMediaSeconds = 60
        metrics.update(snapshot)
        clock.set(100)
        #expect(try value("flowrec_recording_seconds") == 30)
        #expect(try value("flowrec_realtime_factor") == 3)
        #expect(try value("flowrec_state", state: "recording") == 0)
        #expect(try value("flowrec_state", state: "writing_outputs") == 1)

        snapshot.outputMediaSeconds = 90
        metrics.update(snapshot)
        clock.set(110)
        metrics.setState(.done)
        clock.set(500)
        #expect(try value("flowrec_realtime_factor") == 3) // 90 s in 30 s, frozen at done
        #expect(try value("flowrec_state", state: "done") == 1)
        #expect(try value("flowrec_state", state: "writing_outputs") == 0)

        #expect(metrics.failure == nil)
        metrics.markFailed("disk full")
        metrics.markFailed("later")
        #expect(metrics.failure == "disk full")
        #expect(try value("flowrec_up") == 0)
    }

    @Test func snapshotAddsSessions() {
        let session = PeerSessionSummary(session: "s", participant: "alice", remoteAddress: nil, joinedMicros: 0, leftMicros: nil,
                                         connected: true, failure: nil, captures: [], rtpPackets: 10, rtcpPackets: 2,
                                         lostPackets: -1, nackedPackets: 3, repairedPackets: 2, pliSent: 1, srtpAuthFailures: 4)
        var snapshot = MetricsSnapshot()
        snapshot.add(session)
        snapshot.add(session)
        #expect(snapshot.rtpPackets == 20 && snapshot.rtcpPackets == 4 && snapshot.lostPackets == 0)
        #expect(snapshot.nackedPackets == 6 && snapshot.repairedPackets == 4 && snapshot.pliSent == 2 && snapshot.srtpAuthFailures == 8)
        #expect(snapshot.participants == 0 && snapshot.captureBytes == 0)
    }

    @Test func procReaders() throws {
        #expect(ProcessStats.residentBytes(statm: "12345 678 90 1 0 2 0\n", pageSize: 4096) == 678 * 4096)
        #expect(ProcessStats.residentBytes(statm: "12345\n", pageSize: 4096) == nil)
        #expect(ProcessStats.residentBytes(statm: "1 x 2", pageSize: 4096) == nil)
        let stat = "1234 (my (odd) proc) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0 100 4096 99\n"
        #expect(ProcessStats.cpuSeconds(stat: stat, ticksPerSecond: 100) == 3)
        #expect(ProcessStats.cpuSeconds(stat: "1234 (short) S 1 2 3", ticksPerSecond: 100) == nil)
        #expect(ProcessStats.cpuSeconds(stat: "no parenthesis", ticksPerSecond: 100) == nil)
        #expect(ProcessStats.readSmallFile("/nonexistent/file") == nil)

        #if os(Linux)
        let before = ProcessStats.current()
        let resident = try #require(before.residentMemoryBytes)
        #expect(resident > 1 << 20 && resident < 1 << 40, "resident \(resident)")
        let cpu = try #require(before.cpuSeconds)
        #expect(cpu > 0 && cpu < 1e7, "cpu \(cpu)")
        // Burn some CPU: the counter does not go back.
        var x: UInt64 = 1
        for i in 0..<20_000_000 { x = x &* 6364136223846793005 &+ UInt64(i) }
        #expect(x != 0 || true)
        let after = try #require(ProcessStats.current().cpuSeconds)
        #expect(after >= cpu)
        // The real exposition has both process families.
        _ = try checkFamilies(RecordingMetrics(room: "r").exposition(), room: "r")
        #endif
    }
}
