import Foundation
import Media
import Testing
import VideoCompose

/// aiortc publishers → WHIP → `flowrec record` → decode what it wrote: each participant's tone
/// and colour in its own file and in the composite, durations, and NACK/RTX repair under loss.
///
/// Everything runs inside a private network namespace the test makes (`unshare --net`), with a
/// veth pair 10.99.0.1/10.99.0.2 and loopback up; no traffic leaves it.
@Suite(.serialized) struct WHIPRecordTests {
    static let ready = LiveNetwork.available

    struct Publisher {
        var tone: Int
        var colour: (r: Int, g: Int, b: Int)
        var seconds: Int
        var delay: Double = 0
        var viaLossyRelay: Double? = nil
        /// Busy pictures (about four packets a frame instead of one), so that video carries most packets.
        var noise = false
        /// Offer transport-cc and log the recorder's RTCP and each packet's send time (`twcc<i>.hex`).
        var twcc = false
    }

    /// Runs the recorder and the publishers in a fresh namespace; returns the output folder and the script's log.
    private func record(_ publishers: [Publisher], extra: [String] = [], name: String = #function) throws -> (dir: String, log: String) {
        let dir = try Tool.temporaryFolder(name)
        var script = """
        set -u
        \(LiveNetwork.setUp)
        timeout 90 '\(Tool.flowrec)' record --whip 10.99.0.1:8080 --room demo --out '\(dir)' --name room --tracks \
          --ice-host 10.99.0.1 --udp-ports 20000-20009 --stop-when-empty 5s --duration 60s \(extra.joined(separator: " ")) > '\(dir)/record.out' 2> '\(dir)/record.err' &
        rec=$!
        for i in $(seq 100); do (exec 3<>/dev/tcp/10.99.0.1/8080) 2>/dev/null && break; sleep 0.1; done
        pids=""

        """
        for (i, p) in publishers.enumerated() {
            let url = "http://10.99.0.1:8080/whip/demo"
            var relayArgs = ""
            if let loss = p.viaLossyRelay {
                let port = 9000 + i
                script += "timeout 60 '\(LiveNetwork.python)' '\(LiveNetwork.tools)/udp_impair.py' --listen 10.99.0.2:\(port) --forward 10.99.0.1:\(20000 + i) "
                    + "--seconds \(p.seconds + 20) --loss \(loss) --media-only --seed \(i + 1) > '\(dir)/relay\(i).json' 2>&1 &\n"
                relayArgs = "--answer-candidate-rewrite 10.99.0.2:\(port) --offer-candidate-rewrite 10.99.0.2:\(port) --ice-host 10.99.0.2"
            }
            script += "timeout 60 '\(LiveNetwork.python)' '\(LiveNetwork.tools)/whip_publish.py' '\(url)' --seconds \(p.seconds) "
                + "--tone \(p.tone) --colour \(p.colour.r),\(p.colour.g),\(p.colour.b) --start-delay \(p.delay) \(p.noise ? "--noise" : "") \(relayArgs) "
                + (p.twcc ? "--twcc-log '\(dir)/twcc\(i).hex' " : "")
                + "> '\(dir)/publisher\(i).json' 2> '\(dir)/publisher\(i).err' &\npids=\"$pids $!\"\n"
        }
        script += """
        status=0
        for p in $pids; do wait $p || status=$?; done
        wait $rec || status=$?
        echo "exit $status"
        """
        let scriptPath = dir + "/run.sh"
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let result = try LiveNetwork.run(scriptPath)
        let log = result.stdout + result.stderr
            + ((try? String(contentsOfFile: dir + "/record.err", encoding: .utf8)) ?? "")
            + publishers.indices.map { (try? String(contentsOfFile: dir + "/publisher\($0).err", encoding: .utf8)) ?? "" }.joined()
        return (dir, log)
    }

    private func manifest(_ dir: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/room.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// BT.601 limited-range YUV of an RGB colour.
    private func yuv(_ c: (r: Int, g: Int, b: Int)) -> (y: Double, u: Double, v: Double) {
        let (r, g, b) = (Double(c.r), Double(c.g), Double(c.b))
        return (16 + 0.257 * r + 0.504 * g + 0.098 * b, 128 - 0.148 * r - 0.291 * g + 0.439 * b, 128 + 0.439 * r - 0.368 * g - 0.071 * b)
    }

    private func expectColour(_ picture: I420Frame, _ rect: PixelRect, _ colour: (r: Int, g: Int, b: Int), _ what: String) {
        // A band just above the middle, where the picture is even in a letterboxed tile, above the moving square.
        let band = PixelRect(x: rect.x + rect.width / 8, y: rect.y + rect.height / 2 - rect.height / 6, width: rect.width * 3 / 4,
                             height: rect.height / 24)
        let seen = picture.averageColor(in: band)
        let want = yuv(colour)
        #expect(abs(seen.y - want.y) < 20 && abs(seen.u - want.u) < 20 && abs(seen.v - want.v) < 20,
                "\(what): \(seen), expected \(want)")
    }

    @Test(.enabled(if: ready), .timeLimit(.minutes(3)))
    func twoPublishersGiveTheirTonesAndColoursInEveryOutput() throws {
        let red = Publisher(tone: 440, colour: (255, 0, 0), seconds: 6)
        let blue = Publisher(tone: 660, colour: (0, 0, 255), seconds: 5, delay: 1)
        let (dir, log) = try record([red, blue])
        let m = try manifest(dir)
        #expect(m["stopReason"] as? String == "empty", "\(log)")
        let participants = try #require(m["connections"] as? [[String: Any]], "\(log)")
        #expect(participants.count == 2)
        let named = (m["participants"] as? [[String: Any]] ?? []).map { ($0["name"] as? String ?? "", $0["packets"] as? Int ?? 0) }
        #expect(named.map(\.0) == ["p1", "p2"] && named.allSatisfy { $0.1 > 300 }, "\(named)")
        for p in participants {
            #expect(p["connected"] as? Bool == true, "\(p)")
            #expect((p["rtpPackets"] as? Int ?? 0) > 300, "\(p)")
            #expect((p["srtpAuthFailures"] as? Int ?? -1) == 0, "\(p)")
        }

        // Per-participant files: p1 is the red 440 Hz publisher, p2 the blue 660 Hz one.
        for (name, publisher, other) in [("p1", red, blue), ("p2", blue, red)] {
            let path = dir + "/room.\(name).webm"
            let probe = try Probe(path)
            #expect(probe.video?.codec == "vp8" && probe.audio?.codec == "opus", "\(name): \(probe.streams.map(\.codec))")
            #expect(abs(probe.duration - Double(publisher.seconds)) < 1.0, "\(name) lasts \(probe.duration) s, sent \(publisher.seconds) s")
            #expect(try Decode.errors(path).isEmpty)
            let samples = try Decode.audio(path)
            let own = tonePower(samples, publisher.tone, from: 1, to: 3)
            let foreign = tonePower(samples, other.tone, from: 1, to: 3)
            #expect(own > 1e-3 && foreign < own / 1000, "\(name): own tone \(own), other \(foreign)")
            let width = try #require(probe.video?.width), height = try #require(probe.video?.height)
            #expect(width == 640 && height == 360)
            expectColour(try Decode.picture(path, at: 2, width: width, height: height),
                         PixelRect(x: 0, y: 0, width: width, height: height), publisher.colour, "\(name) picture")
        }

        // The composite: both tones while both are present; two tiles where the grid puts them.
        let composite = dir + "/room.webm"
        let probe = try Probe(composite)
        #expect(probe.video?.width == 1280 && probe.video?.height == 720)
        #expect(abs(probe.duration - 6) < 1.0, "composite lasts \(probe.duration) s")
        #expect(try Decode.errors(composite).isEmpty)
        let mix = try Decode.audio(composite)
        #expect(tonePower(mix, 440, from: 2, to: 4) > 1e-4 && tonePower(mix, 660, from: 2, to: 4) > 1e-4)
        let picture = try Decode.picture(composite, at: 3, width: 1280, height: 720)
        let tiles = Layout.tiles(.grid, count: 2, active: 0, canvasWidth: 1280, canvasHeight: 720)
        expectColour(picture, tiles[0], red.colour, "composite tile 1")
        expectColour(picture, tiles[1], blue.colour, "composite tile 2")

        // The raw capture reads back: a transcode of the folder gives the same participants and frames.
        let capture = dir + "/room.capture"
        let again = try Tool.flowrec("transcode", capture, "--tracks", "--out", dir + "/again")
        #expect(again.status == 0, "\(again.stderr)")
        for name in ["p1", "p2"] {
            let live = try Probe(dir + "/room.\(name).webm"), replayed = try Probe(dir + "/again/\(name).webm")
            #expect(live.video?.frames == replayed.video?.frames && live.audio?.frames == replayed.audio?.frames,
                    "\(name): live \(live.streams.map(\.frames)), from the capture \(replayed.streams.map(\.frames))")
        }
    }

    @Test(.enabled(if: ready), .timeLimit(.minutes(3)))
    func tenPercentLossIsRepairedWithNackAndRTX() throws {
        let lossy = Publisher(tone: 440, colour: (0, 160, 0), seconds: 8, viaLossyRelay: 0.10, noise: true)
        let (dir, log) = try record([lossy])
        let m = try manifest(dir)
        let p = try #require((m["connections"] as? [[String: Any]])?.first, "\(log)")
        let lost = p["lostPackets"] as? Int ?? 0, repaired = p["repairedPackets"] as? Int ?? 0, nacked = p["nackedPackets"] as? Int ?? 0
        // Audio has no NACK (as in browsers): only video losses are repairable; video is the larger share.
        #expect(lost > 50, "the relay dropped too little to test: \(p)")
        #expect(nacked > 0 && Double(repaired) > 0.5 * Double(lost), "lost \(lost), NACKed \(nacked), repaired \(repaired): \(p)")
        print("10% loss: lost \(lost) packets, NACKed \(nacked), repaired \(repaired) (\(Int(100 * Double(repaired) / Double(max(1, lost))))%)")
        let path = dir + "/room.p1.webm"
        let probe = try Probe(path)
        #expect(abs(probe.duration - 8) < 1.0, "lasts \(probe.duration) s")
        #expect((probe.video?.frames ?? 0) > 8 * 30 * 7 / 10, "video frames \(probe.video?.frames ?? 0) of about \(8 * 30)")
        #expect(try Decode.errors(path).isEmpty)
        // Lost audio leaves gaps (the decoder joins what is left) that break the tone's phase, so a
        // long window averages it away: check half-second windows against a frequency nobody sent.
        let samples = try Decode.audio(path)
        let windows = stride(from: 1.0, to: 6.5, by: 0.5).map { ($0, tonePower(samples, 440, from: $0, to: $0 + 0.5), tonePower(samples, 660, from: $0, to: $0 + 0.5)) }
        let clear = windows.filter { $0.1 > 1e-5 && $0.1 > 100 * $0.2 }
        #expect(clear.count >= windows.count * 8 / 10, "tone 440 against 660 by half second: \(windows)")
    }

    @Test(.enabled(if: ready), .timeLimit(.minutes(3)))
    func transportCCFeedbackReadsBackWithAnIndependentParser() throws {
        let sender = Publisher(tone: 440, colour: (200, 100, 0), seconds: 6, noise: true, twcc: true)
        let (dir, log) = try record([sender])
        let check = try Tool.run(LiveNetwork.python, [LiveNetwork.tools + "/twcc_check.py", dir + "/twcc0.hex"])
        let report = try #require(try JSONSerialization.jsonObject(with: check.output) as? [String: Any], "\(check.stderr) \(log)")
        print("transport-cc feedback from the recorder, as twcc_reader.py reads it: \(report)")
        let feedback = report["feedback"] as? Int ?? 0, sent = report["sent"] as? Int ?? 0, reported = report["reported"] as? Int ?? 0
        #expect(report["malformed"] as? Int == 0, "\(report)")
        // One every 50 ms after a packet: about 20 a second for the 6 s of media.
        #expect(feedback >= 90 && feedback <= 200, "\(report)")
        #expect(sent > 500 && Double(reported) >= 0.98 * Double(sent), "\(report)")
        #expect(report["count_gaps"] as? Int == 0, "\(report)")
        // Reported arrivals follow send times within the link's (and Python's) jitter: 90% of the
        // packets within 30 ms of each other (measured: 5 ms; the first packets after the handshake
        // can wait about 100 ms while the recorder opens its outputs).
        #expect((report["offset_spread_ms"] as? Double ?? 1e9) < 30, "\(report)")
        let m = try manifest(dir)
        let p = try #require((m["connections"] as? [[String: Any]])?.first, "\(log)")
        #expect((p["transportFeedbackSent"] as? Int ?? 0) >= feedback, "\(p)")
    }
}
