import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// The Janus WebSocket API (`ws://host:port[/path]`, subprotocol `janus-protocol`): one text frame
/// per JSON message each way; fragmented messages are reassembled, pings answered, a close
/// handshake answered and reported.
public final class JanusWebSocketTransport: JanusTransport {
    /// The WebSocket subprotocol Janus speaks.
    public static let subprotocol = "janus-protocol"
    /// The largest message accepted (after reassembly); a larger one closes the connection (1009).
    public static let maxMessageBytes = 8 << 20

    public let inputs: AsyncStream<JanusTransportInput>
    private let channel: any Channel

    private init(channel: any Channel, inputs: AsyncStream<JanusTransportInput>) {
        self.channel = channel
        self.inputs = inputs
    }

    /// Connects and upgrades to a WebSocket.
    /// - Throws: ``JanusError/unreachable(url:reason:)`` when the connection or the upgrade fails
    ///   (including an HTTP answer other than 101) within `timeout` seconds.
    public static func connect(to endpoint: JanusEndpoint, group: any EventLoopGroup,
                               timeout: Double = 5) async throws(JanusError) -> JanusWebSocketTransport {
        let (stream, sink) = AsyncStream.makeStream(of: JanusTransportInput.self)
        let eventLoop = group.next()
        let upgraded = eventLoop.makePromise(of: Void.self)
        let limit = TimeAmount.milliseconds(Int64(max(timeout, 0.05) * 1000))
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(limit)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: Self.maxMessageBytes,
                                                              automaticErrorHandling: true) { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(JanusWebSocketFrameHandler(sink: sink))
                            upgraded.succeed()
                        }
                    }
                    let requestName = "janus-ws-request"
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        withClientUpgrade: (upgraders: [upgrader], completionHandler: { context in
                            context.pipeline.removeHandler(name: requestName, promise: nil)
                        }))
                    try channel.pipeline.syncOperations.addHandler(
                        JanusWebSocketUpgradeRequest(endpoint: endpoint, upgraded: upgraded), name: requestName)
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            upgraded.fail(error)
            sink.finish()
            throw .unreachable(url: endpoint.description, reason: "\(error)")
        }
        let timer = eventLoop.scheduleTask(in: limit) {
            upgraded.fail(JanusTransportFailure("no WebSocket upgrade within \(timeout) s"))
        }
        do {
            try await upgraded.futureResult.get()
            timer.cancel()
        } catch {
            timer.cancel()
            try? await channel.close()
            sink.finish()
            throw .unreachable(url: endpoint.description, reason: "\(error)")
        }
        return JanusWebSocketTransport(channel: channel, inputs: stream)
    }

    public func send(_ text: String) {
        let buffer = channel.allocator.buffer(string: text)
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: buffer)
        channel.writeAndFlush(frame, promise: nil)
    }

    public func close() async {
        let channel = self.channel
        let done = channel.eventLoop.makePromise(of: Void.self)
        channel.eventLoop.execute {
            guard channel.isActive else { return done.succeed() }
            channel.pipeline.fireUserInboundEventTriggered(JanusWebSocketFrameHandler.CloseRequest(done: done))
        }
        try? await done.futureResult.get()
        try? await channel.closeFuture.get()
    }
}

/// A transport failure's text.
struct JanusTransportFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
