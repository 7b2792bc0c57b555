import Foundation
import Testing

/// README's exit-code table, the rows a careless set-up meets, against the real binary: each
/// message names the path and says the reason in words (no `NSCocoaErrorDomain Code=…`).
/// Read-only file systems are tmpfs mounts in a private mount namespace (root ignores file modes);
/// ports are taken inside a private network namespace.
@Suite struct ExitCodeTests {
    static let ready = LiveNetwork.available

    /// Runs `script` (with `$flowrec` and `$dir` set) in fresh mount and network namespaces, loopback up.
    private func run(_ dir: String, _ script: String) throws -> Tool.Result {
        let full = "set -u; flowrec='\(Tool.flowrec)'; dir='\(dir)'; ip link set lo up\n" + script
        return try Tool.run("/usr/bin/unshare", ["--mount", "--net", "/bin/bash", "-c", full])
    }

    private func expectWords(_ result: Tool.Result, _ status: Int32, _ words: [String], _ what: String) {
        #expect(result.status == status, "\(what): exit \(result.status), not \(status): \(result.stderr)")
        for word in words { #expect(result.stderr.contains(word), "\(what): '\(word)' missing from: \(result.stderr)") }
        #expect(!result.stderr.contains("NSCocoaErrorDomain") && !result.stderr.contains("errno "), "\(what): \(result.stderr)")
    }

    private let record = "\"$flowrec\" record --whip 127.0.0.1:8080 --room demo --ice-host 127.0.0.1 --duration 1s"

    @Test(.enabled(if: ready)) func recordOutOnAReadOnlyFileSystemExits73() throws {
        let dir = try Tool.temporaryFolder()
        let result = try run(dir, "mkdir -p \"$dir/ro\"; mount -t tmpfs -o ro tmpfs \"$dir/ro\"; \(record) --out \"$dir/ro/rec\"")
        expectWords(result, 73, [dir + "/ro/rec", "Read-only file system"], "record --out read-only")
    }

    @Test(.enabled(if: ready)) func anOutThatIsAFileExits73() throws {
        let dir = try Tool.temporaryFolder()
        FileManager.default.createFile(atPath: dir + "/file", contents: Data("x".utf8))
        let recorded = try run(dir, "\(record) --out \"$dir/file\"")
        expectWords(recorded, 73, [dir + "/file", "exists and is not a folder"], "record --out a file")
        let synth = try Tool.flowrec("synth", "--participants", "1", "--seconds", "2s", "--format", "pcap", "--out", dir + "/room.pcap")
        try #require(synth.status == 0, "\(synth.stderr)")
        let transcoded = try Tool.flowrec("transcode", dir + "/room.pcap", "--tracks", "--out", dir + "/file/out")
        expectWords(transcoded, 73, [dir + "/file", "exists and is not a folder"], "transcode --out under a file")
    }

    @Test(.enabled(if: ready)) func transcodeTracksIntoAReadOnlyFolderExits73InWords() throws {
        let dir = try Tool.temporaryFolder()
        let synth = try Tool.flowrec("synth", "--participants", "1", "--seconds", "2s", "--format", "pcap", "--out", dir + "/room.pcap")
        try #require(synth.status == 0, "\(synth.stderr)")
        let result = try run(dir, """
            mkdir -p "$dir/ro"; mount -t tmpfs -o ro tmpfs "$dir/ro"
            "$flowrec" transcode "$dir/room.pcap" --tracks --out "$dir/ro/tracks"
            """)
        expectWords(result, 73, [dir + "/ro/tracks", "Read-only file system"], "transcode --tracks read-only")
    }

    @Test(.enabled(if: ready)) func aTakenWHIPOrMetricsPortExits75AndLeavesNothing() throws {
        let dir = try Tool.temporaryFolder()
        let hold = "\(LiveNetwork.python) -c \"import socket,time; s=socket.socket(); s.bind(('127.0.0.1', int(__import__('sys').argv[1]))); s.listen(); time.sleep(15)\""
        let whip = try run(dir, "\(hold) 8080 & hp=$!; sleep 0.5; \(record) --out \"$dir/a\"; status=$?; kill -KILL $hp; exit $status")
        expectWords(whip, 75, ["127.0.0.1:8080", "address already in use"], "WHIP port taken")
        let metrics = try run(dir, "\(hold) 9100 & hp=$!; sleep 0.5; \(record) --metrics 127.0.0.1:9100 --out \"$dir/b\"; status=$?; kill -KILL $hp; exit $status")
        expectWords(metrics, 75, ["127.0.0.1:9100", "address already in use"], "metrics port taken")
        for out in ["a", "b"] {
            let left = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/" + out)) ?? []
            #expect(left.allSatisfy { $0.hasSuffix(".lock") }, "\(out) keeps \(left): a recording that never started leaves no manifest")
        }
    }

    /// A symbolic link planted at the lock file's path is refused, and its target keeps its bytes.
    @Test(.enabled(if: ready)) func aSymlinkedLockIsNotFollowed() throws {
        let dir = try Tool.temporaryFolder()
        try FileManager.default.createDirectory(atPath: dir + "/rec", withIntermediateDirectories: true)
        try Data("precious\n".utf8).write(to: URL(fileURLWithPath: dir + "/target"))
        try FileManager.default.createSymbolicLink(atPath: dir + "/rec/.whip-demo.lock", withDestinationPath: dir + "/target")
        let result = try run(dir, "\(record) --out \"$dir/rec\"")
        expectWords(result, 73, [dir + "/rec/.whip-demo.lock", "symbolic link"], "symlinked lock")
        #expect(try String(contentsOfFile: dir + "/target", encoding: .utf8) == "precious\n")
        // A planted .partial link for an output is refused the same way.
        let synth = try Tool.flowrec("synth", "--participants", "1", "--seconds", "2s", "--format", "pcap", "--out", dir + "/room.pcap")
        try #require(synth.status == 0, "\(synth.stderr)")
        try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir + "/out/room.webm.partial", withDestinationPath: dir + "/target")
        let transcoded = try Tool.flowrec("transcode", dir + "/room.pcap", "--out", dir + "/out/room.webm")
        #expect(transcoded.status == 73, "exit \(transcoded.status): \(transcoded.stderr)")
        #expect(transcoded.stderr.contains("symbolic link"), "\(transcoded.stderr)")
        #expect(try String(contentsOfFile: dir + "/target", encoding: .utf8) == "precious\n")
    }

    @Test(.enabled(if: ready)) func iceHostsNoPeerCanReachAreUsageErrors() throws {
        let dir = try Tool.temporaryFolder()
        for host in ["999.1.1.1", "::1", "0.0.0.0", "224.0.0.1", "example"] {
            let result = try run(dir, "\"$flowrec\" record --whip 127.0.0.1:8080 --room demo --ice-host '\(host)' --duration 1s --out \"$dir/r\"")
            #expect(result.status == 64, "--ice-host \(host): exit \(result.status): \(result.stderr)")
            #expect(result.stderr.contains(host), "\(result.stderr)")
        }
    }

    /// A name with {start} that is already taken (a restart in the same second as a killed run; here
    /// a year-long {start:%Y}) gets "-2" instead of exit 73.
    @Test(.enabled(if: ready)) func aTakenStartNameGetsASuffix() throws {
        let dir = try Tool.temporaryFolder()
        let twice = "\(record) --name '{room}-{start:%Y}' --out \"$dir/r\" && \(record) --name '{room}-{start:%Y}' --out \"$dir/r\""
        let result = try run(dir, twice)
        #expect(result.status == 0, "exit \(result.status): \(result.stderr)")
        let year = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).year!
        let manifests = try FileManager.default.contentsOfDirectory(atPath: dir + "/r").filter { $0.hasSuffix(".json") }.sorted()
        #expect(manifests == ["demo-\(year)-2.json", "demo-\(year).json"], "\(manifests)")
    }
}
