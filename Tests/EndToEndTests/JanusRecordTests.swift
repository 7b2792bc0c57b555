import Foundation
import Media
import Testing
import VideoCompose

/// Debian's Janus (videoroom, `record = true`) with aiortc publishers speaking the Janus API, and
/// `flowrec record --janus` as a silent subscriber: decode what flowrec wrote (tones, colours,
/// join and leave, durations) and compare each participant with `janus-pp-rec` of Janus's own
/// `.mjr` recording of the same session.
///
/// Everything runs inside a private network namespace the test makes (`unshare --net`), with a
/// veth pair 10.99.0.1 (Janus, flowrec) / 10.99.0.2 (publishers) and loopback up.
@Suite(.serialized) struct JanusRecordTests {
    static let ready = LiveNetwork.available && Tool.exists("janus") && Tool.exists("janus-pp-rec")

    struct Publisher {
        var display: String
        var tone: Int
        var colour: (r: Int, g: Int, b: Int)
        var seconds: Int
        var delay: Double = 0
        var room = 1234
    }

    /// Janus, the recorder and the publishers in a fresh namespace; returns the output folder and a log.
    private func record(_ publishers: [Publisher], recorderArgs: [String] = [], janusArgs: String = "", then: (String) -> String = { _ in "" },
                        name: String = #function) throws -> (dir: String, log: String) {
        let dir = try Tool.temporaryFolder(name)
        let python = LiveNetwork.python, tools = LiveNetwork.tools
        var script = """
        set -u
        \(LiveNetwork.setUp)
        '\(python)' '\(tools)/janus_env.py' start --dir '\(dir)/janus' --ip 10.99.0.1 --room 1234 \(janusArgs) --record-dir '\(dir)/mjr' > '\(dir)/janus.out' 2>&1 || { cat '\(dir)/janus.out'; exit 1; }
        timeout 90 '\(Tool.flowrec)' record --janus ws://10.99.0.1:8188 --room 1234 --out '\(dir)' --name room --tracks \
          --ice-host 10.99.0.1 --udp-ports 30000-30009 --duration 60s \(recorderArgs.isEmpty ? "--stop-when-empty 4s" : recorderArgs.joined(separator: " ")) > '\(dir)/record.out' 2> '\(dir)/record.err' &
        rec=$!
        sleep 1
        pids=""

        """
        for (i, p) in publishers.enumerated() {
            script += Self.publish(p, index: i, dir: dir)
        }
        script += then(dir) + """
        status=0
        for p in $pids; do wait $p || status=$?; done
        wait $rec || status=$?
        '\(python)' '\(tools)/janus_env.py' stop --dir '\(dir)/janus' > /dev/null 2>&1
        echo "exit $status"
        """
        let scriptPath = dir + "/run.sh"
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let result = try LiveNetwork.run(scriptPath)
        let log = result.stdout + result.stderr + ((try? String(contentsOfFile: dir + "/record.err", encoding: .utf8)) ?? "")
            + publishers.indices.map { (try? String(contentsOfFile: dir + "/publisher\($0).err", encoding: .utf8)) ?? "" }.joined()
        return (dir, log)
    }

    /// Janus's own `.mjr` recording of publisher `id`'s `kind` track, through janus-pp-rec into `out`.
    private func janusRecording(_ folder: String, id: String, kind: String, to out: String) throws -> Probe {
        let mjr = try #require(try FileManager.default.contentsOfDirectory(atPath: folder)
            .first { $0.contains("-user-\(id)-") && $0.contains("-\(kind)-") && $0.hasSuffix(".mjr") }, "no Janus \(kind) recording of \(id)")
        let converted = try Tool.run("janus-pp-rec", [folder + "/" + mjr, out])
        try #require(converted.status == 0, "janus-pp-rec: \(converted.stdout)\(converted.stderr)")
        return try Probe(out)
    }

    /// The shell line that starts publisher `p` in the background.
    static func publish(_ p: Publisher, index i: Int, dir: String) -> String {
        "timeout 60 '\(LiveNetwork.python)' '\(LiveNetwork.tools)/janus_publish.py' http://10.99.0.1:8088/janus --room \(p.room) "
            + "--display \(p.display) --seconds \(p.seconds) --tone \(p.tone) --colour \(p.colour.r),\(p.colour.g),\(p.colour.b) "
            + "--start-delay \(p.delay) --ice-host 10.99.0.2 > '\(dir)/publisher\(i).json' 2> '\(dir)/publisher\(i).err' &\npids=\"$pids $!\"\n"
    }

    @Test(.enabled(if: ready), .timeLimit(.minutes(4)))
    func threePublishersJoinAndLeaveAndMatchJanusOwnRecording() throws {
        // Long enough that the frames a subscriber cannot have (sent before its first keyframe: Janus
        // forwards at most one PLI a second to a publisher) stay inside the 3% the comparison allows.
        let alice = Publisher(display: "alice", tone: 440, colour: (255, 0, 0), seconds: 40)
        let bob = Publisher(display: "bob", tone: 660, colour: (0, 0, 255), seconds: 34)
        let carol = Publisher(display: "carol", tone: 880, colour: (0, 160, 0), seconds: 35, delay: 3)
        let (dir, log) = try record([alice, bob, carol])
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/room.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(log)")
        #expect(manifest["source"] as? String == "janus" && manifest["stopReason"] as? String == "empty", "\(manifest)")
        let participants = try #require(manifest["participants"] as? [[String: Any]])
        let names = participants.compactMap { $0["name"] as? String }
        #expect(Set(names) == ["alice", "bob", "carol"], "\(names)\n\(log)")
        let connections = try #require(manifest["connections"] as? [[String: Any]])
        #expect(connections.count == 1 && connections.first?["connected"] as? Bool == true, "\(connections)")

        for (publisher, others) in [(alice, [bob, carol]), (bob, [alice, carol]), (carol, [alice, bob])] {
            let path = dir + "/room.\(publisher.display).webm"
            let probe = try Probe(path)
            #expect(probe.video?.codec == "vp8" && probe.audio?.codec == "opus", "\(publisher.display): \(probe.streams.map(\.codec))")
            #expect(abs(probe.duration - Double(publisher.seconds)) < 1.0, "\(publisher.display) lasts \(probe.duration) s")
            #expect(try Decode.errors(path).isEmpty)
            let samples = try Decode.audio(path)
            let own = tonePower(samples, publisher.tone, from: 1, to: 3)
            #expect(own > 1e-3 && others.allSatisfy { tonePower(samples, $0.tone, from: 1, to: 3) < own / 1000 }, "\(publisher.display): \(own)")

            // Janus's own recording of the same publisher, through janus-pp-rec: the file lasts as long
            // as Janus's audio did (audio needs no keyframe), and the video has its frames but those sent
            // before the first keyframe flowrec could get (Janus sends at most one PLI a second).
            let id = try #require(participants.first { $0["name"] as? String == publisher.display }?["janusID"] as? String)
            let janusAudio = try janusRecording(dir + "/mjr", id: id, kind: "audio", to: dir + "/janus-\(publisher.display).opus")
            let janusVideo = try janusRecording(dir + "/mjr", id: id, kind: "video", to: dir + "/janus-\(publisher.display).webm")
            #expect(abs(probe.duration - janusAudio.duration) < 0.5, "\(publisher.display): flowrec \(probe.duration) s, Janus \(janusAudio.duration) s")
            let ours = try #require(probe.video?.frames), theirs = try #require(janusVideo.video?.frames)
            #expect(abs(Double(ours - theirs)) <= 0.03 * Double(theirs), "\(publisher.display): flowrec \(ours) frames, Janus \(theirs)")
        }

        // The composite: all three tones while all three publish (about 4–34 s in), two after bob left (about 35.5–38 s).
        let composite = dir + "/room.webm"
        #expect(try Decode.errors(composite).isEmpty)
        let mix = try Decode.audio(composite)
        let all = [alice, bob, carol].map { tonePower(mix, $0.tone, from: 6, to: 8) }
        #expect(all.allSatisfy { $0 > 1e-5 }, "tones while all three publish: \(all)")
        let late = [alice, bob, carol].map { tonePower(mix, $0.tone, from: 36, to: 37.5) }
        #expect(late[0] > 1e-5 && late[1] < 1e-7 && late[2] > 1e-5, "after bob left: \(late)")
    }

    @Test(.enabled(if: ready), .timeLimit(.minutes(4)))
    func aJanusRestartIsReportedAndWithReconnectTheRecordingGoesOn() throws {
        let alice = Publisher(display: "alice", tone: 440, colour: (255, 0, 0), seconds: 30)
        // Bob starts 3 s after the restart: flowrec reconnects with backoff (0.5, 1, 2 s…) and cannot
        // record what was sent before it subscribed again.
        let bob = Publisher(display: "bob", tone: 660, colour: (0, 0, 255), seconds: 4, delay: 3)
        let env = "'\(LiveNetwork.python)' '\(LiveNetwork.tools)/janus_env.py'"
        // Janus dies 5 s in (alice's publisher with it) and comes back; bob publishes to the new one.
        let (dir, log) = try record([alice], recorderArgs: ["--reconnect", "--stop-when-empty", "8s"]) { dir in """
            sleep 5
            kill -9 $(cat '\(dir)/janus/janus.pid') 2>/dev/null; sleep 1
            \(env) start --dir '\(dir)/janus' --ip 10.99.0.1 --room 1234 --record-dir '\(dir)/mjr2' > '\(dir)/janus2.out' 2>&1
            \(Self.publish(bob, index: 1, dir: dir))
            """ }
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/room.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(log)")
        let warnings = manifest["warnings"] as? [String] ?? []
        #expect(warnings.contains { $0.contains("session was lost") }, "\(warnings)\n\(log)")
        let connections = manifest["connections"] as? [[String: Any]] ?? []
        #expect(connections.count == 2, "one connection before the restart, one after: \(connections.count)")
        let names = Set((manifest["participants"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String })
        #expect(names == ["alice", "bob"], "\(names)")
        // What came before the restart is kept, and the same composite goes on after it.
        let alicePart = try Probe(dir + "/room.alice.webm")
        #expect(alicePart.duration > 3.5 && alicePart.duration < 6.5, "alice until Janus died: \(alicePart.duration) s")
        let bobPart = try Probe(dir + "/room.bob.webm")
        let bobID = try #require((manifest["participants"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "bob" }?["janusID"] as? String)
        let janusBob = try janusRecording(dir + "/mjr2", id: bobID, kind: "audio", to: dir + "/janus-bob.opus")
        #expect(bobPart.video != nil && abs(bobPart.duration - janusBob.duration) < 0.5,
                "bob after the restart: flowrec \(bobPart.duration) s, Janus \(janusBob.duration) s")
        let composite = dir + "/room.webm"
        let mix = try Decode.audio(composite)
        let length = Double(mix.count) / 48_000
        #expect(tonePower(mix, 440, from: 1, to: 3) > 1e-5 && tonePower(mix, 660, from: length - 3, to: length - 1) > 1e-5,
                "alice early, bob late in one composite of \(length) s")
    }

    @Test(.enabled(if: ready), .timeLimit(.minutes(2)))
    func anUnknownRoomOrNoServerExits69WithTheReason() throws {
        let dir = try Tool.temporaryFolder()
        let env = "'\(LiveNetwork.python)' '\(LiveNetwork.tools)/janus_env.py'"
        let script = """
            \(LiveNetwork.setUp)
            \(env) start --dir '\(dir)/janus' --ip 10.99.0.1 --room 1234 > '\(dir)/janus.out' 2>&1 || { cat '\(dir)/janus.out'; exit 1; }
            timeout 30 '\(Tool.flowrec)' record --janus http://10.99.0.1:8088/janus --room 999 --out '\(dir)/a' --duration 5s 2> '\(dir)/room.err'
            echo "room=$?"
            timeout 30 '\(Tool.flowrec)' record --janus ws://10.99.0.1:9 --room 1234 --out '\(dir)/b' --duration 5s 2> '\(dir)/server.err'
            echo "server=$?"
            \(env) stop --dir '\(dir)/janus' > /dev/null 2>&1
            """
        try script.write(toFile: dir + "/run.sh", atomically: true, encoding: .utf8)
        let result = try LiveNetwork.run(dir + "/run.sh")
        let roomError = (try? String(contentsOfFile: dir + "/room.err", encoding: .utf8)) ?? ""
        let serverError = (try? String(contentsOfFile: dir + "/server.err", encoding: .utf8)) ?? ""
        #expect(result.stdout.contains("room=69"), "\(result.stdout)\(roomError)")
        #expect(roomError.contains("999") && roomError.lowercased().contains("room"), "\(roomError)")
        #expect(result.stdout.contains("server=69"), "\(result.stdout)\(serverError)")
        #expect(serverError.contains("10.99.0.1"), "\(serverError)")
        // Nothing was recorded, so nothing poses as a recording.
        #expect(!FileManager.default.fileExists(atPath: dir + "/a/room.json"))
    }

    @Test(.enabled(if: ready), .timeLimit(.minutes(4)))
    func aScreenShareRoomGoesIntoTheSameCompositeLarge() throws {
        let camera = Publisher(display: "alice", tone: 440, colour: (255, 0, 0), seconds: 6)
        let screen = Publisher(display: "alice", tone: 1000, colour: (255, 255, 0), seconds: 6, room: 1235)
        let (dir, log) = try record([camera, screen], recorderArgs: ["--screen-room", "1235", "--pipeline", "speaker-1080p",
                                                                    "--stop-when-empty", "4s"], janusArgs: "--extra-room 1235")
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/room.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(log)")
        let names = Set((manifest["participants"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String })
        #expect(names == ["alice", "alice-screen"], "\(names)\n\(log)")
        #expect(try Probe(dir + "/room.alice-screen.webm").video?.codec == "vp8")
        // The screen share takes the large tile; the camera sits in the strip.
        let composite = dir + "/room.webm"
        let picture = try Decode.picture(composite, at: 3, width: 1920, height: 1080)
        let tiles = Layout.tiles(.speaker, count: 2, active: 0, canvasWidth: 1920, canvasHeight: 1080)
        let large = try #require(tiles.max { $0.width * $0.height < $1.width * $1.height })
        let small = try #require(tiles.min { $0.width * $0.height < $1.width * $1.height })
        func centre(_ r: PixelRect) -> PixelRect { PixelRect(x: r.x + r.width / 4, y: r.y + r.height / 3, width: r.width / 2, height: r.height / 12) }
        let big = picture.averageColor(in: centre(large)), strip = picture.averageColor(in: centre(small))
        #expect(big.y > 180 && big.u < 60, "large tile \(big), expected the yellow screen")
        #expect(abs(strip.y - 82) < 25 && strip.v > 200, "strip tile \(strip), expected the red camera")
        let mix = try Decode.audio(composite)
        #expect(tonePower(mix, 440, from: 2, to: 4) > 1e-5 && tonePower(mix, 1000, from: 2, to: 4) > 1e-5)
    }
}
