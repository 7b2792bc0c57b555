import Logging

/// The log format asked for: `auto` is human lines when standard error is a terminal, JSON lines otherwise.
public enum LogFormat: String, Sendable, CaseIterable {
    case auto, human, json

    /// `auto` made definite (`human` or `json`); the others as they are.
    public func resolved(terminal: Bool) -> LogFormat {
        self == .auto ? (terminal ? .human : .json) : self
    }
}

/// How a run logs, from its options, then the environment, then the defaults.
public struct LogSettings: Sendable, Equatable {
    /// `human` or `json`, never `auto`.
    public var format: LogFormat
    public var level: Logger.Level
    /// Environment values that were not understood (and so ignored), to be logged as warnings.
    public var problems: [String] = []

    /// `format` and `level` from options when given, else `FLOWREC_LOG_FORMAT` and `FLOWREC_LOG_LEVEL`,
    /// else `auto` and `info`; `auto` resolves by `terminal` (is standard error a terminal?).
    public init(format: LogFormat?, level: Logger.Level?, environment: [String: String], terminal: Bool) {
        var problems: [String] = []
        func fromEnvironment<T: RawRepresentable & CaseIterable>(_ name: String, _: T.Type) -> T? where T.RawValue == String {
            guard let text = environment[name], !text.isEmpty else { return nil }
            if let value = T(rawValue: text.lowercased()) { return value }
            problems.append("\(name)='\(text)' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", ")); ignored")
            return nil
        }
        self.format = (format ?? fromEnvironment("FLOWREC_LOG_FORMAT", LogFormat.self) ?? .auto).resolved(terminal: terminal)
        self.level = level ?? fromEnvironment("FLOWREC_LOG_LEVEL", Logger.Level.self) ?? .info
        self.problems = problems
    }

    /// Bootstraps swift-log with the handler of ``format`` at ``level``, writing to `sink`. Once a process.
    public func bootstrap(sink: LogSink = .standardError) {
        let (format, level) = (format, level)
        LoggingSystem.bootstrap { label -> any LogHandler in
            if format == .json { return JSONLogHandler(label: label, level: level, sink: sink) }
            return HumanLogHandler(label: label, level: level, sink: sink)
        }
    }
}
