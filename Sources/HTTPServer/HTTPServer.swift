import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 server on SwiftNIO: keep-alive and pipelining (answered in order), whole
/// requests up to a body limit, one `HTTPResponder` for all of them, and a graceful stop. TLS is
/// expected to be terminated in front of it (a reverse proxy).
///
/// ```swift
/// let server = HTTPServer(configuration: .init(maxBodyBytes: 0), responder: myResponder)
/// let port = try await server.start(host: "0.0.0.0", port: 8080)
/// // …
/// await server.stop()
/// ```
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    fileprivate let responder: any HTTPResponder
    fileprivate let group: (any EventLoopGroup)?
    private let state = HTTPServerState()

    /// - Parameter group: where connections run; nil: a one-thread group the server creates in
    ///   `start` and shuts down in `stop`. A given group is left running.
    public init(configuration: HTTPServerConfiguration, responder: any HTTPResponder, group: (any EventLoopGroup)? = nil) {
        self.configuration = configuration
        self.responder = responder
        self.group = group
    }

    /// Starts listening; returns the bound port (an ephemeral one when `port` is 0).
    /// - Throws: when the address cannot be bound, or `HTTPServerError.alreadyStarted`.
    public func start(host: String, port: Int) async throws -> Int {
        try await state.start(self, host: host, port: port)
    }

    /// Stops listening, lets each connection finish the request it is on for up to `gracePeriod`,
    /// then closes every connection. The server can be started again afterwards.
    public func stop(gracePeriod: Duration = .seconds(5)) async {
        await state.stop(grace: TimeAmount(gracePeriod))
    }

    /// Sets up an accepted connection's pipeline: idle timeout, HTTP/1.1 codec with pipelining and
    /// protocol-error handling (400), then the handler that reads whole requests and answers them.
    static func configureConnection(_ pipeline: ChannelPipeline.SynchronousOperations, configuration: HTTPServerConfiguration,
                                    responder: any HTTPResponder, activity: HTTPConnectionActivity = HTTPConnectionActivity()) throws {
        var limits = NIOHTTPDecoderLimitConfiguration()
        if let maxHeadBytes = configuration.maxHeadBytes {
            limits.maxHeaderFieldSize = maxHeadBytes
            limits.maxHeaderListSize = maxHeadBytes
        }
        if let maxHeaderFields = configuration.maxHeaderFields { limits.maxHeaderFieldCount = maxHeaderFields }
        try pipeline.addHandler(HTTPRequestDeadlineHandler(activity: activity, timeout: TimeAmount(configuration.requestTimeout)))
        try pipeline.addHandler(IdleStateHandler(readTimeout: TimeAmount(configuration.idleTimeout)))
        try pipeline.configureHTTPServerPipeline(withErrorHandling: true, withEncoderConfiguration: .init(),
                                                 withDecoderLimitConfiguration: limits)
        try pipeline.addHandler(HTTPConnectionHandler(responder: responder, maxBodyBytes: configuration.maxBodyBytes,
                                                      activity: activity))
    }
}

/// Why `HTTPServer.start` failed (besides NIO's bind errors).
public enum HTTPServerError: Error, Sendable {
    case alreadyStarted
}

/// The running part of an `HTTPServer`: its listening channel, and its group when it owns one.
private actor HTTPServerState {
    private var running: (channel: any Channel, ownedGroup: MultiThreadedEventLoopGroup?)?

    func start(_ server: HTTPServer, host: String, port: Int) async throws -> Int {
        guard running == nil else { throw HTTPServerError.alreadyStarted }
        let ownedGroup = server.group == nil ? MultiThreadedEventLoopGroup(numberOfThreads: 1) : nil
        let configuration = server.configuration
        let responder = server.responder
        let registry = HTTPConnectionRegistry()
        do {
            let channel = try await ServerBootstrap(group: server.group ?? ownedGroup!)
                .serverChannelOption(.backlog, value: configuration.backlog)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionTracker(limit: configuration.maxConnections,
                                                                                                   registry: registry))
                    }
                }
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let activity = HTTPConnectionActivity()
                        registry.track(channel, activity)
                        try HTTPServer.configureConnection(channel.pipeline.syncOperations, configuration: configuration,
                                                           responder: responder, activity: activity)
                    }
                }
                .bind(host: host, port: port).get()
            running = (channel, ownedGroup)
            return channel.localAddress?.port ?? port
        } catch {
            try? await ownedGroup?.shutdownGracefully()
            throw error
        }
    }

    func stop(grace: TimeAmount) async {
        guard let (channel, ownedGroup) = running else { return }
        running = nil
        let done = channel.eventLoop.makePromise(of: Void.self)
        channel.eventLoop.execute {
            // A listener that already closed has lost its tracker, and its connections with it.
            guard channel.isActive else { return done.succeed() }
            channel.pipeline.fireUserInboundEventTriggered(HTTPStopEvent(grace: grace, done: done))
        }
        try? await done.futureResult.get()
        try? await channel.closeFuture.get()
        try? await ownedGroup?.shutdownGracefully()
    }
}
