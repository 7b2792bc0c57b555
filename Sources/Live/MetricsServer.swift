import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// `--metrics [HOST:]PORT`: a minimal HTTP/1.1 server (SwiftNIO, keep-alive) for one recording.
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
    private let group: (any EventLoopGroup)?
    private let state = MetricsServerState()

    /// - Parameter group: where connections run; nil: a one-thread group the server creates in
    ///   `start` and shuts down in `stop`. A given group is left running.
    public init(metrics: RecordingMetrics, group: (any EventLoopGroup)? = nil) {
        self.metrics = metrics
        self.group = group
    }

    /// Starts listening; returns the bound port (an ephemeral one when `port` is 0).
    /// - Throws: when the address cannot be bound, or `MetricsServerError.alreadyStarted`.
    public func start(host: String, port: Int) async throws -> Int {
        try await state.start(metrics: metrics, group: group, host: host, port: port)
    }

    /// Stops listening and closes every connection. The server can be started again afterwards.
    public func stop() async {
        await state.stop()
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
public enum MetricsServerError: Error, Sendable {
    case alreadyStarted
}

/// The running part of a `MetricsServer`: its listening channel, its connections, and its group
/// when it owns one.
private actor MetricsServerState {
    /// Connections beyond this many are closed at once.
    static let maxConnections = 64
    /// A connection that sends nothing for this long is closed (scrapers come every 15–60 s).
    static let idleTimeout = TimeAmount.seconds(120)

    private var running: (channel: any Channel, connections: MetricsConnections, ownedGroup: MultiThreadedEventLoopGroup?)?

    func start(metrics: RecordingMetrics, group: (any EventLoopGroup)?, host: String, port: Int) async throws -> Int {
        guard running == nil else { throw MetricsServerError.alreadyStarted }
        let ownedGroup = group == nil ? MultiThreadedEventLoopGroup(numberOfThreads: 1) : nil
        let connections = MetricsConnections(limit: Self.maxConnections)
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = MetricsHTTPHandler.maxHeadBytes
        limits.maxHeaderListSize = MetricsHTTPHandler.maxHeadBytes
        limits.maxHeaderFieldCount = 100
        do {
            let channel = try await ServerBootstrap(group: group ?? ownedGroup!)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { [limits] channel in
                    channel.eventLoop.makeCompletedFuture {
                        // Throwing makes the acceptor close the connection.
                        guard connections.admit(channel) else { throw MetricsConnections.Full() }
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(IdleStateHandler(readTimeout: Self.idleTimeout))
                        try pipeline.configureHTTPServerPipeline(withErrorHandling: true, withEncoderConfiguration: .init(),
                                                                 withDecoderLimitConfiguration: limits)
                        try pipeline.addHandler(MetricsHTTPHandler(metrics: metrics))
                    }
                }
                .bind(host: host, port: port).get()
            running = (channel, connections, ownedGroup)
            return channel.localAddress?.port ?? port
        } catch {
            try? await ownedGroup?.shutdownGracefully()
            throw error
        }
    }

    func stop() async {
        guard let (channel, connections, ownedGroup) = running else { return }
        running = nil
        try? await channel.close().get()
        // Accepting has stopped: whatever is open now is all there is.
        for connection in connections.all {
            connection.close(promise: nil)
            try? await connection.closeFuture.get()
        }
        try? await ownedGroup?.shutdownGracefully()
    }
}

/// The open connections of a running `MetricsServer`, at most `limit` of them.
private final class MetricsConnections: Sendable {
    struct Full: Error {}

    private let limit: Int
    private let open = Mutex<[ObjectIdentifier: any Channel]>([:])

    init(limit: Int) {
        self.limit = limit
    }

    /// Adds `channel` (removed again when it closes); false when `limit` connections are open.
    func admit(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let admitted = open.withLock { open in
            guard open.count < limit else { return false }
            open[id] = channel
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { _ in self.open.withLock { _ = $0.removeValue(forKey: id) } }
        }
        return admitted
    }

    var all: [any Channel] { open.withLock { Array($0.values) } }
}

/// One connection's requests, answered in order (the pipelining handler before it delivers one
/// request at a time) and at once: every answer is computed on the event loop.
private final class MetricsHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// The request line and headers together stay within this.
    static let maxHeadBytes = 8192
    /// How long a refused request may keep the half-closed connection open before it is closed outright.
    static let lingerTime = TimeAmount.seconds(2)

    private struct Response {
        var status: HTTPResponseStatus
        var contentType = "text/plain; charset=utf-8"
        var body: String
        var extraHeaders: [(String, String)] = []
    }

    private let metrics: RecordingMetrics
    /// The request being read (its head came, its end not yet).
    private var head: HTTPRequestHead?
    /// After a 413 the connection is closing: everything else it sends is dropped.
    private var refused = false

    init(metrics: RecordingMetrics) {
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        switch unwrapInboundIn(data) {
        case .head(let request):
            if Self.declaresBody(request) {
                refuse(request, context: context)
            } else {
                head = request
            }
        case .body:
            // Undeclared bodies cannot come (the decoder frames by the headers checked above).
            if let head { refuse(head, context: context) }
        case .end:
            guard let request = head else { return }
            head = nil
            write(answer(request), for: request, keepAlive: request.isKeepAlive, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private static func declaresBody(_ head: HTTPRequestHead) -> Bool {
        head.headers.contains(name: "transfer-encoding")
            || head.headers["content-length"].contains { $0.trimmingCharacters(in: .whitespaces) != "0" }
    }

    private func answer(_ request: HTTPRequestHead) -> Response {
        let path = request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard path == "/metrics" || path == "/health" else { return Response(status: .notFound, body: "not found\n") }
        guard request.method == .GET || request.method == .HEAD else {
            return Response(status: .methodNotAllowed, body: "only GET\n", extraHeaders: [("Allow", "GET, HEAD")])
        }
        if path == "/metrics" {
            return Response(status: .ok, contentType: PrometheusText.contentType, body: metrics.exposition())
        }
        if let failure = metrics.failure {
            return Response(status: .serviceUnavailable, body: "failed: \(failure.replacingNewlines)\n")
        }
        return Response(status: .ok, body: "ok\n")
    }

    /// 413 as soon as the head declares a body; the connection's output closes after it.
    private func refuse(_ request: HTTPRequestHead, context: ChannelHandlerContext) {
        refused = true
        head = nil
        write(Response(status: .payloadTooLarge, body: "requests take no body\n"), for: request, keepAlive: false, context: context)
    }

    private func write(_ response: Response, for request: HTTPRequestHead, keepAlive: Bool, context: ChannelHandlerContext) {
        let body = context.channel.allocator.buffer(string: response.body)
        var headers = HTTPHeaders([("Content-Type", response.contentType), ("Content-Length", String(body.readableBytes)),
                                   ("Cache-Control", "no-store")] + response.extraHeaders)
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if request.version.minor == 0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: response.status, headers: headers))),
                      promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        guard !keepAlive else { return }
        written.assumeIsolated().whenComplete { _ in
            // Half-close so the client reads the whole response before any reset; whatever it still
            // sends is dropped, and the connection closes on its EOF or after the linger time.
            context.close(mode: .output, promise: nil)
            context.eventLoop.assumeIsolated().scheduleTask(in: Self.lingerTime) {
                context.close(promise: nil)
            }
        }
    }
}

private extension String {
    var replacingNewlines: String {
        String(map { $0.isNewline ? " " : $0 })
    }
}
