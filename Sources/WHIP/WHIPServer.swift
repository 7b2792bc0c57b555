import NIOCore
import NIOHTTP1
import NIOPosix

/// The WHIP endpoint over HTTP/1.1 (keep-alive, pipelining) on SwiftNIO. TLS is expected to be
/// terminated in front of it (a reverse proxy).
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
    private let group: (any EventLoopGroup)?
    private let state = WHIPServerState()

    /// - Parameter group: where connections run; nil: a one-thread group the server creates in
    ///   `start` and shuts down in `stop`. A given group is left running.
    public init(options: WHIPServerOptions, backend: any WHIPBackend, group: (any EventLoopGroup)? = nil) {
        handler = WHIPRequestHandler(options: options, backend: backend)
        self.group = group
    }

    /// Starts listening; returns the bound port (an ephemeral one when `port` is 0).
    /// - Throws: when the address cannot be bound, or `WHIPServerError.alreadyStarted`.
    public func start(host: String, port: Int) async throws -> Int {
        try await state.start(handler: handler, group: group, host: host, port: port)
    }

    /// Stops listening, lets each connection finish the request it is on for up to `gracePeriod`,
    /// then closes every connection. The server can be started again afterwards.
    public func stop(gracePeriod: Duration = .seconds(5)) async {
        await state.stop(grace: TimeAmount(gracePeriod))
    }
}

/// Why `WHIPServer.start` failed (besides NIO's bind errors).
public enum WHIPServerError: Error, Sendable {
    case alreadyStarted
}

/// The running part of a `WHIPServer`: its listening channel, and its group when it owns one.
private actor WHIPServerState {
    private var running: (channel: any Channel, ownedGroup: MultiThreadedEventLoopGroup?)?

    func start(handler: WHIPRequestHandler, group: (any EventLoopGroup)?, host: String, port: Int) async throws -> Int {
        guard running == nil else { throw WHIPServerError.alreadyStarted }
        let ownedGroup = group == nil ? MultiThreadedEventLoopGroup(numberOfThreads: 1) : nil
        let idleTimeout = TimeAmount.seconds(Int64(handler.options.idleTimeoutSeconds))
        do {
            let channel = try await ServerBootstrap(group: group ?? ownedGroup!)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(WHIPConnectionTracker())
                    }
                }
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                        try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                        try pipeline.addHandler(WHIPHTTPHandler(handler: handler))
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
            channel.pipeline.fireUserInboundEventTriggered(WHIPStopEvent(grace: grace, done: done))
        }
        try? await done.futureResult.get()
        try? await channel.closeFuture.get()
        try? await ownedGroup?.shutdownGracefully()
    }
}
