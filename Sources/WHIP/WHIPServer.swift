import HTTPServer
import NIOCore

/// The WHIP endpoint over HTTP/1.1 (keep-alive, pipelining): an `HTTPServer` whose requests go
/// to a `WHIPRequestHandler`. TLS is expected to be terminated in front of it (a reverse proxy).
///
/// ```swift
/// let server = WHIPServer(options: WHIPServerOptions(bearerToken: "s3cret"), backend: recorder)
/// let port = try await server.start(host: "0.0.0.0", port: 8080)
/// // … POST http://host:8080/whip/{room}
/// await server.stop()
/// ```
public final class WHIPServer: Sendable {
    /// The sans-IO core every request goes through (e.g. for `sessionEnded(room:session:)`).
    public let handler: WHIPRequestHandler
    private let server: HTTPServer

    /// - Parameter group: where connections run; nil: a one-thread group the server creates in
    ///   `start` and shuts down in `stop`. A given group is left running.
    public init(options: WHIPServerOptions, backend: any WHIPBackend, group: (any EventLoopGroup)? = nil) {
        handler = WHIPRequestHandler(options: options, backend: backend)
        let configuration = HTTPServerConfiguration(maxBodyBytes: options.maxSDPBytes,
                                                    idleTimeout: .seconds(options.idleTimeoutSeconds),
                                                    requestTimeout: .seconds(options.requestTimeoutSeconds),
                                                    maxConnections: options.maxConnections)
        server = HTTPServer(configuration: configuration, responder: WHIPResponder(handler: handler), group: group)
    }

    /// Starts listening; returns the bound port (an ephemeral one when `port` is 0).
    /// - Throws: when the address cannot be bound, or `WHIPServerError.alreadyStarted`.
    public func start(host: String, port: Int) async throws -> Int {
        try await server.start(host: host, port: port)
    }

    /// Stops listening, lets each connection finish the request it is on for up to `gracePeriod`,
    /// then closes every connection. The server can be started again afterwards.
    public func stop(gracePeriod: Duration = .seconds(5)) async {
        await server.stop(gracePeriod: gracePeriod)
    }
}

/// Why `WHIPServer.start` failed (besides NIO's bind errors).
public typealias WHIPServerError = HTTPServerError

/// Hands the server's requests to the sans-IO `WHIPRequestHandler`.
struct WHIPResponder: HTTPResponder {
    let handler: WHIPRequestHandler

    func respond(to request: HTTPRequest) async -> HTTPResponse {
        let whip = WHIPRequest(method: request.method, path: request.uri, headers: WHIPHeaders(request.headers),
                               body: request.body)
        return HTTPResponse(await handler.handle(whip, remoteAddress: request.remoteAddress))
    }

    func payloadTooLarge(_ request: HTTPRequest) -> HTTPResponse {
        HTTPResponse(handler.withCORS(.plain(413, "the body is larger than \(handler.options.maxSDPBytes) bytes")))
    }
}

extension HTTPResponse {
    init(_ response: WHIPResponse) {
        self.init(status: response.status, headers: response.headers.fields, body: response.body)
    }
}
