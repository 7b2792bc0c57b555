import Foundation
import Testing

/// What a hostile or careless peer does to a live recording (issue "Hardening"), each against the
/// real binary with an aiortc publisher in a private network namespace (10.99.0.1 the recorder,
/// 10.99.0.2 the peers; nothing leaves it). Every case checks that the honest publisher's media is
/// in the files.
@Suite(.serialized) struct HardeningLiveTests {
    static let ready = LiveNetwork.available

    /// Runs `body` (shell lines, with `$dir`, `$flowrec`, `$py` and `$tools` set) in a fresh namespace.
    private func run(_ body: String, name: String = #function) throws -> (dir: String, log: String) {
        let dir = try Tool.temporaryFolder(name)
        let script = """
            set -u
            dir='\(dir)'; flowrec='\(Tool.flowrec)'; py='\(LiveNetwork.python)'; tools='\(LiveNetwork.tools)'
            \(LiveNetwork.setUp)
            wait_port() { for i in $(seq 100); do (exec 3<>/dev/tcp/10.99.0.1/8080) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
            \(body)
            """
        try script.write(toFile: dir + "/run.sh", atomically: true, encoding: .utf8)
        let result = try LiveNetwork.run(dir + "/run.sh")
        let files = ["record.err", "publisher.err", "flood.json", "dead.json"]
            .map { "\n--- \($0)\n" + ((try? String(contentsOfFile: dir + "/" + $0, encoding: .utf8)) ?? "") }
        return (dir, result.stdout + result.stderr + files.joined())
    }

    private func json(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(path)")
    }

    /// Every JSON line of a file (the publishers print one each).
    private func jsonLines(_ path: String) -> [[String: Any]] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// The publisher's file holds about `seconds` of its audio and video.
    private func expectRecorded(_ path: String, seconds: Double, _ log: String) throws {
        let probe = try Probe(path)
        #expect(probe.video?.codec == "vp8" && probe.audio?.codec == "opus", "\(probe.streams.map(\.codec))\n\(log)")
        #expect(abs(probe.duration - seconds) < 1.2, "lasts \(probe.duration) s, published \(seconds) s\n\(log)")
        #expect((probe.video?.frames ?? 0) > Int(seconds * 30 * 0.8), "\(probe.video?.frames ?? 0) video frames")
        #expect(try Decode.errors(path).isEmpty)
    }

    /// Under `ulimit -n 1024` (systemd's default), 1,100 idle connections to the WHIP port, re-opened as
    /// the server closes them: `/health` keeps answering and a publisher records through it all.
    /// Before the connection cap, the flood took every descriptor, /health stopped answering, the
    /// publisher was refused and in 2 of 5 runs the process died (SIGILL in libdispatch).
    @Test(.enabled(if: ready), .timeLimit(.minutes(3)))
    func idleConnectionsUnderALowDescriptorLimitLeaveTheRecordingWorking() throws {
        let (dir, log) = try run("""
            (ulimit -n 1024; exec timeout 60 "$flowrec" record --whip 10.99.0.1:8080 --room demo --out "$dir" --name room --tracks \
              --ice-host 10.99.0.1 --udp-ports 20000-20009 --duration 18s) > "$dir/record.out" 2> "$dir/record.err" &
            rec=$!
            wait_port
            timeout 40 "$py" "$tools/idle_connections.py" 10.99.0.1:8080 --count 1100 --seconds 16 > "$dir/flood.json" 2>&1 &
            flood=$!
            sleep 3
            timeout 40 "$py" "$tools/whip_publish.py" http://10.99.0.1:8080/whip/demo --seconds 8 --ice-host 10.99.0.2 \
              > "$dir/publisher.json" 2> "$dir/publisher.err"
            echo "publisher exit $?"
            wait $flood
            wait $rec
            echo "record exit $?"
            """)
        #expect(log.contains("publisher exit 0") && log.contains("record exit 0"), "\(log)")
        let flood = try json(dir + "/flood.json")
        let asked = flood["health_asked"] as? Int ?? 0, answered = flood["health_answered"] as? Int ?? 0
        // The flood was applied: 1,100 opened at first, and those the server closed opened again.
        #expect((flood["opened"] as? Int ?? 0) > 1_100 && (flood["closed_by_server"] as? Int ?? 0) > 0, "\(flood)")
        #expect(asked >= 10 && answered * 10 >= asked * 9, "/health answered \(answered) of \(asked): \(flood)")
        let m = try json(dir + "/room.json")
        #expect(m["state"] as? String == "complete" && m["stopReason"] as? String == "duration", "\(m)")
        try expectRecorded(dir + "/room.p1.webm", seconds: 8, log)
        print("descriptor flood: \(flood)")
    }

    /// 224 forged DTLS records (every content type, epochs 0/1/2/65535, bodies of 0–40 bytes, the
    /// issue's 15-byte datagram among them) from the publisher's own address and port, 2 s into its
    /// 8 s: the session stays up and every second is recorded.
    @Test(.enabled(if: ready), .timeLimit(.minutes(3)))
    func forgedDTLSRecordsDoNotEndAPublisher() throws {
        let (dir, log) = try run("""
            timeout 60 "$flowrec" record --whip 10.99.0.1:8080 --room demo --out "$dir" --name room --tracks \
              --ice-host 10.99.0.1 --udp-ports 20000-20009 --stop-when-empty 3s > "$dir/record.out" 2> "$dir/record.err" &
            rec=$!
            wait_port
            timeout 40 "$py" "$tools/whip_publish.py" http://10.99.0.1:8080/whip/demo --seconds 8 --ice-host 10.99.0.2 \
              --forge-dtls-at 2 > "$dir/publisher.json" 2> "$dir/publisher.err"
            echo "publisher exit $?"
            wait $rec
            echo "record exit $?"
            """)
        #expect(log.contains("publisher exit 0") && log.contains("record exit 0"), "\(log)")
        let publisher = try #require(jsonLines(dir + "/publisher.json").first, "\(log)")
        #expect(publisher["forged_dtls_records"] as? Int == 224, "\(publisher)")
        let m = try json(dir + "/room.json")
        let connection = try #require((m["connections"] as? [[String: Any]])?.first, "\(m)")
        #expect(connection["failure"] == nil, "\(connection)")
        // What the filter dropped before OpenSSL (wrong epoch, too short, unknown types); the rest failed their MAC.
        #expect((connection["dtlsRecordsDiscarded"] as? Int ?? 0) >= 150, "\(connection)")
        #expect(!log.contains("DTLS connection failed"), "\(log)")
        try expectRecorded(dir + "/room.p1.webm", seconds: 8, log)
    }

    /// Offers without candidates fill a two-publisher room, and the next one gets 503; 15 s later
    /// they are dropped ("not connected within 15 s"), a real publisher records, and
    /// `--stop-when-empty` still ends the recording once it leaves.
    @Test(.enabled(if: ready), .timeLimit(.minutes(3)))
    func offersThatNeverConnectFreeTheirSlots() throws {
        let started = Date()
        let (dir, log) = try run("""
            timeout 90 "$flowrec" record --whip 10.99.0.1:8080 --room demo --out "$dir" --name room --tracks --max-participants 2 \
              --ice-host 10.99.0.1 --udp-ports 20000-20009 --stop-when-empty 4s --duration 80s > "$dir/record.out" 2> "$dir/record.err" &
            rec=$!
            wait_port
            for i in 1 2 3; do
              timeout 20 "$py" "$tools/whip_publish.py" http://10.99.0.1:8080/whip/demo --seconds 1 --ice-host 10.99.0.2 \
                --post-without-candidates >> "$dir/dead.json" 2>> "$dir/publisher.err"
            done
            sleep 17
            timeout 40 "$py" "$tools/whip_publish.py" http://10.99.0.1:8080/whip/demo --seconds 6 --ice-host 10.99.0.2 \
              > "$dir/publisher.json" 2>> "$dir/publisher.err"
            echo "publisher exit $?"
            wait $rec
            echo "record exit $?"
            """)
        let elapsed = Date().timeIntervalSince(started)
        #expect(log.contains("publisher exit 0") && log.contains("record exit 0"), "\(log)")
        let statuses = jsonLines(dir + "/dead.json").map { $0["post_status"] as? Int ?? 0 }
        #expect(statuses == [201, 201, 503], "\(statuses)\n\(log)")
        #expect(log.components(separatedBy: "not connected within 15 s: no remote candidate").count - 1 >= 2, "\(log)")
        let m = try json(dir + "/room.json")
        #expect(m["stopReason"] as? String == "empty", "\(m)")
        #expect(elapsed < 60, "the recording ran \(elapsed) s: the dead offers held it open")
        try expectRecorded(dir + "/room.p3.webm", seconds: 6, log)
        // "publisher connected" comes when media connects: only for the real one.
        #expect(log.components(separatedBy: "publisher connected").count - 1 == 1, "\(log)")
    }

    /// SIGHUP (an SSH session dropping without nohup) finalises like SIGTERM: exit 130, a complete
    /// manifest, no `.partial` left, the five seconds before it in the file.
    @Test(.enabled(if: ready), .timeLimit(.minutes(3)))
    func sighupFinalisesTheRecording() throws {
        let (dir, log) = try run("""
            timeout 60 "$flowrec" record --whip 10.99.0.1:8080 --room demo --out "$dir" --name room --tracks \
              --ice-host 10.99.0.1 --udp-ports 20000-20009 > "$dir/record.out" 2> "$dir/record.err" &
            rec=$!
            wait_port
            timeout 40 "$py" "$tools/whip_publish.py" http://10.99.0.1:8080/whip/demo --seconds 12 --ice-host 10.99.0.2 \
              > "$dir/publisher.json" 2> "$dir/publisher.err" &
            for i in $(seq 100); do grep -q "publisher connected" "$dir/record.err" && break; sleep 0.1; done
            sleep 5
            kill -HUP $rec
            wait $rec
            echo "record exit $?"
            wait
            """)
        #expect(log.contains("record exit 130"), "\(log)")
        let m = try json(dir + "/room.json")
        #expect(m["state"] as? String == "complete" && m["stopReason"] as? String == "signal", "\(m)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".partial") }
        #expect(leftovers.isEmpty, "\(leftovers)")
        try expectRecorded(dir + "/room.p1.webm", seconds: 5, log)
    }
}
