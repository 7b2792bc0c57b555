import HTTPServer
import NIOCore

/// `--metrics [HOST:]PORT`: an `HTTPServer` (keep-alive, at most 64 connections) for one recording.
///
/// - `GET /metrics`: 200, ``RecordingMetrics/exposition()`` as `text/plain; version=0.0.4`.
/// - `GET /health`: 200 `ok` unless ``RecordingMetrics/markFailed(_:)`` was called, then 503.
/// - Another path: 404; another method than GET or HEAD: 405; a request with a body: 413 and the
///   connection closes. Request heads are limited to 8 KiB (400 beyond).
///
/// ```swift
/// let metrics = RecordingMetrics(room: "main")
/// let server = MetricsServer(metrics: metrics)
/// let port = try await server.start(host: "0.0.0.0", port: 9464)
/// // … metrics.update(snapshot) every second, metrics.setState(.writingOutputs) …
/// await server.stop()
/// ```
public final class MetricsServer: Sendable {
    public let metrics: RecordingMetrics
    private let server: HTTPServer

    /// - Parameter group: where connections run; nil: a one-thread group the server creates in
    ///   `start` and shuts down in `stop`. A given group is left running.
    public init(metrics: RecordingMetrics, group: (any EventLoopGroup)? = nil) {
        self.metrics = metrics
        // Scrapers come every 15–60 s; a request head stays within 8 KiB.
        let configuration = HTTPServerConfiguration(maxBodyBytes: 0, maxHeadBytes: 8192, maxHeaderFields: 100,
                                                    idleTimeout: .seconds(120), maxConnections: 64, backlog: 64)
        server = HTTPServer(configuration: configuration, responder: MetricsResponder(metrics: metrics), group: group)
    }

    /// Starts listening; returns the bound port (an ephemeral one when `port` is 0).
    /// - Throws: when the address cannot be bound, or `MetricsServerError.alreadyStarted`.
    public func start(host: String, port: Int) async throws -> Int {
        try await server.start(host: host, port: port)
    }

    /// Stops listening and closes every connection. The server can be started again afterwards.
    public func stop() async {
        await server.stop(gracePeriod: .zero)
    }

    /// `[HOST:]PORT` as `--metrics` takes it: `9464`, `127.0.0.1:9464`, `[::1]:9464`, `:9464`.
    /// A missing host is `defaultHost`. nil when the port is not in 0...65535 or the text is malformed.
    public static func parseAddress(_ text: String, defaultHost: String = "0.0.0.0") -> (host: String, port: Int)? {
        var host = defaultHost
        var portText = Substring(text)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            portText = text[text.index(close, offsetBy: 2)...]
            guard !host.isEmpty else { return nil }
        } else if let colon = text.lastIndex(of: ":") {
            guard text.firstIndex(of: ":") == colon else { return nil } // a bare IPv6 address needs brackets
            if colon != text.startIndex { host = String(text[..<colon]) }
            portText = text[text.index(after: colon)...]
        }
        guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portText), (0...65535).contains(port) else {
            return nil
        }
        return (host, port)
    }
}

/// Why `MetricsServer.start` failed (besides NIO's bind errors).
public typealias MetricsServerError = HTTPServerError

/// The metrics server's answers, all computed at once on the event loop.
private struct MetricsResponder: HTTPImmediateResponder {
    let metrics: RecordingMetrics

    func immediateResponse(to request: HTTPRequest) -> HTTPResponse {
        let path = request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard path == "/metrics" || path == "/health" else { return Self.text(404, "not found\n") }
        guard request.method == "GET" || request.method == "HEAD" else {
            return Self.text(405, "only GET\n", extraHeaders: [("Allow", "GET, HEAD")])
        }
        if path == "/metrics" {
            return Self.text(200, metrics.exposition(), contentType: PrometheusText.contentType)
        }
        if let failure = metrics.failure {
            return Self.text(503, "failed: \(failure.replacingNewlines)\n")
        }
        return Self.text(200, "ok\n")
    }

    func payloadTooLarge(_ request: HTTPRequest) -> HTTPResponse {
        Self.text(413, "requests take no body\n")
    }

    private static func text(_ status: Int, _ body: String, contentType: String = "text/plain; charset=utf-8",
                             extraHeaders: [(name: String, value: String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType), ("Cache-Control", "no-store")] + extraHeaders,
                     body: Array(body.utf8))
    }
}

private extension String {
    var replacingNewlines: String {
        String(map { $0.isNewline ? " " : $0 })
    }
}
