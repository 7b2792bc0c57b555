/// Module `FlowrecLogging`: flowrec's two log formats as swift-log handlers — human lines for a
/// terminal, JSON lines for everything else — the sink they write to, and the one-time bootstrap.

import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One log record with its metadata merged (handler, metadata provider, call site): what a
/// ``LogLineFormat`` turns into a line.
public struct LogRecord: Sendable {
    public var date: Date
    public var level: Logger.Level
    public var message: String
    /// The logger's label (`flowrec`).
    public var label: String
    public var metadata: Logger.Metadata

    public init(date: Date, level: Logger.Level, message: String, label: String, metadata: Logger.Metadata = [:]) {
        self.date = date
        self.level = level
        self.message = message
        self.label = label
        self.metadata = metadata
    }
}

/// How a record becomes one line of text (without the newline).
public protocol LogLineFormat: Sendable {
    static func line(_ record: LogRecord) -> String
}

/// Where finished lines go.
public struct LogSink: Sendable {
    private let writeLine: @Sendable (String) -> Void

    /// A sink calling `write` with each line (no newline); for tests and other destinations.
    public init(_ write: @escaping @Sendable (String) -> Void) { writeLine = write }

    public func write(_ line: String) { writeLine(line) }

    /// Standard error, one `write(2)` a line under a lock (threads never interleave within a line).
    /// Standard output is flushed first, so a program's results and its log read in order.
    public static let standardError = LogSink { line in
        let bytes = Array((line + "\n").utf8)
        stderrLock.lock()
        defer { stderrLock.unlock() }
        fflush(nil)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { writeStandardError($0.baseAddress! + written, bytes.count - written) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return }
            written += n
        }
    }

    private static let stderrLock = NSLock()
}

/// write(2) to standard error (a free function: inside ``LogSink`` `write` names its own method).
private func writeStandardError(_ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(STDERR_FILENO, bytes, count)
}

/// A swift-log handler writing each record as one line of `Format` to a ``LogSink``.
public struct LineLogHandler<Format: LogLineFormat>: LogHandler {
    public let label: String
    public let sink: LogSink
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public init(label: String, level: Logger.Level = .info, sink: LogSink = .standardError,
                metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.label = label
        self.logLevel = level
        self.sink = sink
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        if let error = event.error { merged["error"] = .string("\(error)") }
        sink.write(Format.line(LogRecord(date: Date(), level: event.level, message: event.message.description,
                                         label: label, metadata: merged)))
    }
}

/// Human lines: `09:00:00.123 warning: message key=value key2="a b"` (local time of day).
public typealias HumanLogHandler = LineLogHandler<HumanLogFormat>
/// JSON lines: `{"ts":"2026-11-30T09:00:00.123Z","level":"warning","msg":"message","label":"flowrec","key":"value"}`.
public typealias JSONLogHandler = LineLogHandler<JSONLogFormat>
