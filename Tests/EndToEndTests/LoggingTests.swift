import Foundation
import Testing

/// The log on stderr: JSON lines when stderr is a pipe or a file, human lines on a terminal
/// (a pseudo-terminal from util-linux `script`), and the options and environment that choose.
@Suite struct LoggingTests {
    /// A one-participant room whose video file is cut mid-frame, so transcoding it warns; and the
    /// video file's name.
    private func truncatedRoom(_ dir: String) throws -> (room: String, video: String) {
        let room = dir + "/room"
        try #require(try Tool.flowrec("synth", "--participants", "1", "--seconds", "2s", "--out", room).status == 0)
        let video = try #require(try FileManager.default.contentsOfDirectory(atPath: room).first { $0.contains("-video-") })
        let data = try #require(FileManager.default.contents(atPath: room + "/" + video))
        try data.prefix(data.count - 100).write(to: URL(fileURLWithPath: room + "/" + video))
        return (room, video)
    }

    /// Every non-empty line of `text` is a JSON object with `ts`, `level`, `msg` and `label`.
    private func expectJSONLines(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let lines = text.split(separator: "\n")
        #expect(!lines.isEmpty, "no log lines", sourceLocation: sourceLocation)
        for line in lines {
            let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            #expect(object?["ts"] is String && object?["level"] is String && object?["msg"] is String && object?["label"] is String,
                    "not a JSON log line: \(line)", sourceLocation: sourceLocation)
        }
    }

    /// `command` run under a pseudo-terminal; what the terminal showed (stdout and stderr), one line an element.
    private func underTerminal(_ arguments: [String]) throws -> (status: Int32, lines: [String]) {
        let command = ([Tool.flowrec] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let result = try Tool.run("script", ["-qfec", command, "/dev/null"])
        // The terminal ends lines with CR LF (one Character in Swift, so drop the CRs before splitting).
        return (result.status, result.stdout.replacingOccurrences(of: "\r", with: "").split(separator: "\n").map(String.init))
    }

    @Test func pipedStderrIsJSONLinesWithLevels() throws {
        let dir = try Tool.temporaryFolder()
        let (room, video) = try truncatedRoom(dir)
        let warned = try Tool.flowrec("transcode", room, "--tracks", "--out", dir + "/out")
        #expect(warned.status == 0, "\(warned.stderr)")
        expectJSONLines(warned.stderr)
        #expect(LogLines.messages(warned.stderr, level: "warning").contains { $0.contains(video) && $0.contains("truncated") }, "\(warned.stderr)")
        #expect(LogLines.entries(warned.stderr).contains { $0["msg"] as? String == "progress" && ($0["position_seconds"] as? NSNumber)?.doubleValue == 2.0
            && ($0["speed"] as? NSNumber) != nil },
                "\(warned.stderr)")
        // Results stay on stdout, as they were.
        #expect(warned.stdout.hasPrefix("wrote \(dir)/out/1001.webm"), "\(warned.stdout)")

        // A message with quotes and a newline-free but hostile path is still one JSON line.
        let garbage = dir + "/say \"no\" \\ é.mjr"
        _ = FileManager.default.createFile(atPath: garbage, contents: Data(repeating: 0x41, count: 64))
        let failed = try Tool.flowrec("transcode", garbage, "--out", dir + "/out2")
        #expect(failed.status == 65, "\(failed.stderr)")
        expectJSONLines(failed.stderr)
        #expect(LogLines.messages(failed.stderr, level: "error").contains { $0.hasPrefix(garbage + ": byte 0") }, "\(failed.stderr)")

        // A usage error found after parsing is a JSON error line too, with exit 64.
        let usage = try Tool.flowrec("synth", "--seconds", "ten", "--out", dir + "/x")
        #expect(usage.status == 64)
        expectJSONLines(usage.stderr)
        #expect(LogLines.messages(usage.stderr, level: "error").contains { $0.contains("--seconds") }, "\(usage.stderr)")
    }

    @Test(.enabled(if: Tool.exists("script"), "needs util-linux script for a pseudo-terminal"))
    func terminalGetsHumanLines() throws {
        let dir = try Tool.temporaryFolder()
        let (room, video) = try truncatedRoom(dir)
        let human = try underTerminal(["transcode", room, "--tracks", "--out", dir + "/out"])
        #expect(human.status == 0, "\(human.lines)")
        #expect(!human.lines.contains { $0.hasPrefix("{") }, "\(human.lines)")
        #expect(human.lines.contains { $0.wholeMatch(of: /\d\d:\d\d:\d\d\.\d{3} warning: .*truncated.*/) != nil && $0.contains(video) },
                "\(human.lines)")
        #expect(human.lines.contains { $0.hasPrefix("wrote \(dir)/out/1001.webm") }, "\(human.lines)")

        // --log-format json wins over the terminal: JSON lines, and no progress bar among them.
        let json = try underTerminal(["transcode", room, "--tracks", "--out", dir + "/out", "--force", "--log-format", "json"])
        #expect(json.status == 0, "\(json.lines)")
        let logLines = json.lines.filter { !$0.hasPrefix("wrote ") && !$0.isEmpty }
        expectJSONLines(logLines.joined(separator: "\n"))
        #expect(LogLines.messages(logLines.joined(separator: "\n"), level: "warning").contains { $0.contains(video) }, "\(json.lines)")
    }

    @Test func environmentChoosesFormatAndLevel() throws {
        let dir = try Tool.temporaryFolder()
        let (room, _) = try truncatedRoom(dir)
        // FLOWREC_LOG_FORMAT=human on a pipe: human lines.
        let human = try Tool.run("/usr/bin/env", ["FLOWREC_LOG_FORMAT=human", Tool.flowrec, "transcode", room, "--tracks", "--out", dir + "/out"])
        #expect(human.status == 0, "\(human.stderr)")
        let lines = human.stderr.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.wholeMatch(of: /\d\d:\d\d:\d\d\.\d{3} warning: .*truncated.*/) != nil }, "\(human.stderr)")
        #expect(!lines.contains { $0.hasPrefix("{") }, "\(human.stderr)")

        // FLOWREC_LOG_LEVEL=error: the warning and the progress lines are not logged; --log-level beats it.
        let quiet = try Tool.run("/usr/bin/env", ["FLOWREC_LOG_LEVEL=error", Tool.flowrec, "transcode", room, "--tracks", "--out", dir + "/out", "--force"])
        #expect(quiet.status == 0 && quiet.stderr.isEmpty, "\(quiet.stderr)")
        let loud = try Tool.run("/usr/bin/env", ["FLOWREC_LOG_LEVEL=error", Tool.flowrec, "transcode", room, "--tracks", "--out", dir + "/out",
                                                 "--force", "--log-level", "warning"])
        #expect(LogLines.messages(loud.stderr, level: "warning").count == 1 && LogLines.messages(loud.stderr, level: "info").isEmpty,
                "\(loud.stderr)")
    }
}
