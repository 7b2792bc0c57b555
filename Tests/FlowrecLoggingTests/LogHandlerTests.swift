import FlowrecLogging
import Foundation
import JSONText
import Logging
import Testing

/// The lines a handler wrote, in order.
final class CapturedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    var lines: [String] { lock.withLock { stored } }
    var sink: LogSink { LogSink { line in self.lock.withLock { self.stored.append(line) } } }
}

/// Text a peer or a file could put in a message or a metadata value.
private let hostile = "say \"hi\" \\ back\\slash\nsecond line\r\ttab \u{01}\u{1B}[31mred\u{7F} é 🎙️ \u{2028}end"

/// 2026-11-30T09:00:00.250Z.
private let fixedDate = Date(timeIntervalSince1970: 1_796_029_200.25)

@Suite struct JSONLogHandlerTests {
    private func logger(_ captured: CapturedLines, level: Logger.Level = .info) -> Logger {
        Logger(label: "flowrec") { JSONLogHandler(label: $0, level: level, sink: captured.sink, metadataProvider: nil) }
    }

    private func parse(_ line: String) throws -> [String: JSONValue] {
        try #require(try JSONValue.parse(line).object, "not a JSON object: \(line)")
    }

    @Test func hostileTextParsesBackExactly() throws {
        let captured = CapturedLines()
        logger(captured).warning("\(hostile)", metadata: ["participant": "\(hostile)", hostile: "key"])
        let lines = captured.lines
        try #require(lines.count == 1)
        #expect(!lines[0].contains("\n") && !lines[0].contains("\r") && !lines[0].contains("\u{1B}"), "\(lines[0])")
        let object = try parse(lines[0])
        #expect(object["level"]?.string == "warning")
        #expect(object["msg"]?.string == hostile)
        #expect(object["label"]?.string == "flowrec")
        #expect(object["participant"]?.string == hostile)
        #expect(object[hostile]?.string == "key")
        // Foundation's parser agrees.
        let foundation = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(foundation["msg"] as? String == hostile)
    }

    @Test func timestampIsRFC3339UTCWithMilliseconds() throws {
        let line = JSONLogFormat.line(LogRecord(date: fixedDate, level: .error, message: "m", label: "flowrec"))
        #expect(line == #"{"ts":"2026-11-30T09:00:00.250Z","level":"error","msg":"m","label":"flowrec"}"#)
        let captured = CapturedLines()
        logger(captured).info("now")
        let ts = try #require(try parse(captured.lines[0])["ts"]?.string)
        #expect(ts.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "\(ts)")
    }

    @Test func metadataBecomesTypedFields() throws {
        let captured = CapturedLines()
        var log = logger(captured)
        log[metadataKey: "room"] = "demo"
        log.error("stopped", metadata: ["packets": .stringConvertible(1234), "ok": .stringConvertible(false),
                                       "ratio": .stringConvertible(0.5), "list": ["a", "b"], "nested": ["k": "v"],
                                       "msg": "clash", "when": .stringConvertible(fixedDate)])
        let object = try parse(captured.lines[0])
        #expect(object["room"]?.string == "demo")
        #expect(object["packets"] == .number("1234"))
        #expect(object["ok"] == .bool(false))
        #expect(object["ratio"] == .number("0.5"))
        #expect(object["list"] == .array([.string("a"), .string("b")]))
        #expect(object["nested"] == .object(["k": .string("v")]))
        #expect(object["when"]?.string != nil)
        // A metadata key naming a fixed field does not replace it.
        #expect(object["msg"]?.string == "stopped" && object["_msg"]?.string == "clash")
    }

    @Test func levelsBelowTheHandlersAreDropped() throws {
        let captured = CapturedLines()
        let log = logger(captured, level: .warning)
        log.info("quiet")
        log.debug("quieter")
        log.warning("loud")
        #expect(captured.lines.count == 1)
        #expect(try parse(captured.lines[0])["msg"]?.string == "loud")
    }
}

@Suite struct HumanLogHandlerTests {
    @Test func lineHasTimeLevelMessageAndMetadata() throws {
        let captured = CapturedLines()
        let log = Logger(label: "flowrec") { HumanLogHandler(label: $0, level: .info, sink: captured.sink, metadataProvider: nil) }
        log.warning("no media received", metadata: ["participant": "p1", "reason": "two words", "empty": ""])
        let line = try #require(captured.lines.first)
        #expect(line.wholeMatch(of: /\d\d:\d\d:\d\d\.\d{3} warning: no media received empty="" participant=p1 reason="two words"/) != nil, "\(line)")
        #expect(!line.hasPrefix("{"))
    }

    @Test func controlCharactersAreShownNotSent() throws {
        let line = HumanLogFormat.line(LogRecord(date: fixedDate, level: .error, message: hostile, label: "flowrec",
                                                 metadata: ["display": "\(hostile)"]))
        #expect(!line.contains("\n") && !line.contains("\r") && !line.contains("\u{1B}") && !line.contains("\u{7F}"), "\(line)")
        #expect(line.contains(" error: say \"hi\" \\ back\\slash\\nsecond line\\r\ttab \\u0001\\u001b[31mred\\u007f é 🎙️"), "\(line)")
        // A quoted value is a JSON string literal, so it reads back exactly.
        let quoted = try #require(line.range(of: "display=").map { String(line[$0.upperBound...]) })
        #expect(try JSONValue.parse(quoted).string == hostile)
    }
}

@Suite struct LogSettingsTests {
    @Test func optionsBeatTheEnvironmentWhichBeatsTheDefaults() {
        let environment = ["FLOWREC_LOG_FORMAT": "human", "FLOWREC_LOG_LEVEL": "debug"]
        #expect(LogSettings(format: .json, level: .error, environment: environment, terminal: true)
                == LogSettings(format: .json, level: .error, environment: [:], terminal: false))
        let fromEnvironment = LogSettings(format: nil, level: nil, environment: environment, terminal: false)
        #expect(fromEnvironment.format == .human && fromEnvironment.level == .debug)
        let defaults = LogSettings(format: nil, level: nil, environment: [:], terminal: false)
        #expect(defaults.format == .json && defaults.level == .info && defaults.problems.isEmpty)
    }

    @Test func autoIsHumanOnATerminalOnly() {
        #expect(LogSettings(format: .auto, level: nil, environment: [:], terminal: true).format == .human)
        #expect(LogSettings(format: .auto, level: nil, environment: [:], terminal: false).format == .json)
        #expect(LogSettings(format: nil, level: nil, environment: ["FLOWREC_LOG_FORMAT": "AUTO"], terminal: true).format == .human)
    }

    @Test func unknownEnvironmentValuesAreIgnoredAndSaid() {
        let settings = LogSettings(format: nil, level: nil, environment: ["FLOWREC_LOG_FORMAT": "xml", "FLOWREC_LOG_LEVEL": "loud"],
                                   terminal: true)
        #expect(settings.format == .human && settings.level == .info)
        #expect(settings.problems.count == 2)
        #expect(settings.problems.first?.contains("FLOWREC_LOG_FORMAT='xml'") == true, "\(settings.problems)")
    }
}
