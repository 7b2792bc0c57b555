import Foundation
import Testing

/// Unattended runs: a live WHIP recording stopped by SIGTERM finalises everything and says so;
/// one killed with SIGKILL leaves a capture that `flowrec recover` turns into the outputs; two
/// runs with the same lock never record twice; a name template names the files.
@Suite(.serialized) struct OperationsTests {
    /// A recorder and one aiortc publisher in a fresh namespace; `signal` is sent to the recorder `after` seconds in.
    private func interrupted(by signal: String, after seconds: Int, name: String = #function) throws -> (dir: String, stdout: String, log: String) {
        let dir = try Tool.temporaryFolder(name)
        let script = """
            \(LiveNetwork.setUp)
            # No `timeout` wrapper: the signal must reach flowrec itself (--duration bounds the run).
            '\(Tool.flowrec)' record --whip 10.99.0.1:8080 --room ops --out '\(dir)' --name room --tracks \
              --ice-host 10.99.0.1 --duration 40s --metrics 10.99.0.1:9100 > '\(dir)/record.out' 2> '\(dir)/record.err' &
            rec=$!
            for i in $(seq 100); do (exec 3<>/dev/tcp/10.99.0.1/8080) 2>/dev/null && break; sleep 0.1; done
            timeout 40 '\(LiveNetwork.python)' '\(LiveNetwork.tools)/whip_publish.py' http://10.99.0.1:8080/whip/ops --seconds 30 \
              --tone 440 --colour 255,0,0 > '\(dir)/publisher.json' 2> '\(dir)/publisher.err' &
            pub=$!
            # Wait until media flows (the capture grows), then let it run the given time.
            for i in $(seq 150); do [ -s '\(dir)/room.capture/p1.pcap' ] && break; sleep 0.1; done
            sleep \(seconds)
            exec 3<>/dev/tcp/10.99.0.1/9100 && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3 > '\(dir)/metrics.txt'; exec 3<&-
            kill -\(signal) $rec
            started=$(date +%s.%N)
            wait $rec; echo "recorder=$?"
            echo "stop-seconds=$(echo "$(date +%s.%N) - $started" | bc)"
            kill $pub 2>/dev/null; wait $pub 2>/dev/null
            """
        try script.write(toFile: dir + "/run.sh", atomically: true, encoding: .utf8)
        let result = try LiveNetwork.run(dir + "/run.sh")
        let log = ((try? String(contentsOfFile: dir + "/record.err", encoding: .utf8)) ?? "")
            + ((try? String(contentsOfFile: dir + "/publisher.err", encoding: .utf8)) ?? "")
        return (dir, result.stdout, log)
    }

    private func manifest(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test(.enabled(if: LiveNetwork.available), .timeLimit(.minutes(3)))
    func sigtermFinalisesEverythingAndExits130() throws {
        let (dir, stdout, log) = try interrupted(by: "TERM", after: 15)
        #expect(stdout.contains("recorder=130"), "\(stdout)\n\(log)")
        let m = try manifest(dir + "/room.json")
        #expect(m["state"] as? String == "complete" && m["stopReason"] as? String == "signal", "\(m)")
        // The outputs were made while recording: the stop only finalised them, every file within 5 s.
        let warnings = m["warnings"] as? [String] ?? []
        #expect(!warnings.contains { $0.contains("made from the captures") }, "\(warnings)")
        let stop = Double(stdout.split(separator: "\n").first { $0.hasPrefix("stop-seconds=") }?.dropFirst(13) ?? "") ?? 99
        #expect(stop < 5, "the recorder took \(stop) s to finish after SIGTERM")
        print("sigterm: every file final \(stop) s after SIGTERM (15 s recorded)")
        let probe = try Probe(dir + "/room.p1.webm")
        #expect(probe.duration > 14 && probe.duration < 18, "p1 lasts \(probe.duration) s")
        let composite = try Probe(dir + "/room.webm")
        #expect(abs(composite.duration - probe.duration) < 0.5, "composite \(composite.duration) s, p1 \(probe.duration) s")
        // --metrics served Prometheus text while recording: one participant, packets flowing.
        let metrics = (try? String(contentsOfFile: dir + "/metrics.txt", encoding: .utf8)) ?? ""
        let rtp = metrics.split(separator: "\n").first { $0.hasPrefix("flowrec_rtp_packets_total{room=\"ops\"}") }
        #expect(metrics.contains("200 OK") && metrics.contains("flowrec_participants{room=\"ops\"} 1"), "\(metrics)")
        #expect((rtp?.split(separator: " ").last.flatMap { Double($0) } ?? 0) > 100, "\(rtp ?? "no flowrec_rtp_packets_total")")
        // … and the composite was being encoded as it went, at about the speed of the call.
        func value(_ name: String) -> Double {
            metrics.split(separator: "\n").first { $0.hasPrefix(name + "{room=\"ops\"}") }?.split(separator: " ").last.flatMap { Double($0) } ?? -1
        }
        #expect(value("flowrec_frames_encoded_total") > 200, "\(metrics)")
        #expect(value("flowrec_realtime_factor") > 0.6 && value("flowrec_realtime_factor") <= 1.05, "\(metrics)")
        #expect(try Decode.errors(dir + "/room.webm").isEmpty)
        let partials = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".partial") }
        #expect(partials.isEmpty, "\(partials)")
    }

    @Test(.enabled(if: LiveNetwork.available), .timeLimit(.minutes(3)))
    func afterSigkillRecoverMakesThePlayableOutputsFromTheCapture() throws {
        let (dir, stdout, log) = try interrupted(by: "KILL", after: 5)
        #expect(stdout.contains("recorder=137"), "\(stdout)\n\(log)")
        // Killed mid-recording: the first manifest says so, the capture is on disk.
        let before = try manifest(dir + "/room.json")
        #expect(before["state"] as? String == "recording", "\(before)")
        let recovered = try Tool.flowrec("recover", dir)
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(LogLines.messages(recovered.stderr, level: "warning").contains { $0.hasPrefix("lost: ") }, "\(recovered.stderr)")
        let after = try manifest(dir + "/room.json")
        #expect(after["state"] as? String == "recovered" && (after["lost"] as? String)?.contains("at most the last second") == true, "\(after)")
        // All but (at most) the last second before the kill: media flowed about 5 s.
        let probe = try Probe(dir + "/room.p1.webm")
        #expect(probe.duration > 3.5, "p1 lasts \(probe.duration) s")
        #expect(try Decode.errors(dir + "/room.p1.webm").isEmpty && (try Decode.errors(dir + "/room.webm")).isEmpty)
        let samples = try Decode.audio(dir + "/room.webm")
        #expect(tonePower(samples, 440, from: 1, to: 3) > 1e-4)
        // Recovering again finds nothing left to do.
        #expect(try Tool.flowrec("recover", dir).status != 0)
    }

    /// Secrets need not be on the command line: --token-file (first line) and $FLOWREC_TOKEN both
    /// protect the WHIP endpoint; an unreadable file is a usage error that names it.
    @Test(.enabled(if: LiveNetwork.available), .timeLimit(.minutes(2)))
    func theWHIPTokenComesFromAFileOrTheEnvironment() throws {
        let dir = try Tool.temporaryFolder()
        try "s3cret\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        let missing = try Tool.flowrec("record", "--whip", "10.99.0.1:8080", "--room", "t", "--out", dir + "/x",
                                       "--token-file", dir + "/none", "--duration", "1s")
        #expect(missing.status == 64 && missing.stderr.contains(dir + "/none"), "\(missing.status) \(missing.stderr)")
        let script = """
            \(LiveNetwork.setUp)
            probe() {  # prints the status of an empty POST with the given Authorization header
              '\(LiveNetwork.python)' -c 'import sys, urllib.request, urllib.error
            req = urllib.request.Request("http://10.99.0.1:8080/whip/t", data=b"v=0", headers={"Content-Type": "application/sdp", "Authorization": sys.argv[1]})
            try: print(urllib.request.urlopen(req, timeout=5).status)
            except urllib.error.HTTPError as e: print(e.code)' "$1"
            }
            for how in file env; do
              if [ $how = file ]; then
                '\(Tool.flowrec)' record --whip 10.99.0.1:8080 --room t --out '\(dir)'/$how --token-file '\(dir)/token' --duration 20s 2>/dev/null &
              else
                FLOWREC_TOKEN=s3cret '\(Tool.flowrec)' record --whip 10.99.0.1:8080 --room t --out '\(dir)'/$how --duration 20s 2>/dev/null &
              fi
              rec=$!
              for i in $(seq 100); do (exec 3<>/dev/tcp/10.99.0.1/8080) 2>/dev/null && break; sleep 0.1; done
              echo "$how-none=$(probe 'Bearer wrong')"
              echo "$how-right=$(probe 'Bearer s3cret')"
              kill -TERM $rec; wait $rec
            done
            """
        try script.write(toFile: dir + "/run.sh", atomically: true, encoding: .utf8)
        let out = try LiveNetwork.run(dir + "/run.sh").stdout
        // A wrong token is refused (401); the right one gets past authentication to the SDP check (400).
        for how in ["file", "env"] {
            #expect(out.contains("\(how)-none=401") && out.contains("\(how)-right=400"), "\(out)")
        }
    }

    @Test func aSecondRunWithTheSameLockExits75AndTheNameTemplateNamesFiles() throws {
        let dir = try Tool.temporaryFolder()
        let first = Process()
        first.executableURL = URL(fileURLWithPath: Tool.flowrec)
        first.arguments = ["record", "--whip", "127.0.0.1:0", "--room", "lock", "--out", dir, "--lock", dir + "/room.lock",
                           "--name", "{room}-{start:%Y}", "--ice-host", "127.0.0.1", "--duration", "20s"]
        first.standardError = FileHandle.nullDevice
        first.standardOutput = FileHandle.nullDevice
        try first.run()
        defer { if first.isRunning { first.terminate() } }
        // Wait until the first run has started (its lock file holds its pid).
        for _ in 0..<100 where (try? String(contentsOfFile: dir + "/room.lock", encoding: .utf8))?.isEmpty != false {
            Thread.sleep(forTimeInterval: 0.1)
        }
        let second = try Tool.flowrec("record", "--whip", "127.0.0.1:0", "--room", "lock", "--out", dir, "--lock", dir + "/room.lock",
                                      "--duration", "20s")
        #expect(second.status == 75, "\(second.stderr)")
        #expect(second.stderr.contains("room.lock") && second.stderr.contains("pid \(first.processIdentifier)"), "\(second.stderr)")
        first.terminate()
        first.waitUntilExit()
        #expect(first.terminationStatus == 130)
        let year = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).year!
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        #expect(files.contains("lock-\(year).json"), "\(files)")
    }
}
