import NIOCore
import NIOHTTP1

/// Sent down the listening channel by `HTTPServer.stop`: stop accepting, let each connection finish
/// its current request, close whatever remains after `grace`, then complete `done`.
struct HTTPStopEvent: Sendable {
    var grace: TimeAmount
    var done: EventLoopPromise<Void>
}

/// In the listening channel's pipeline (before the acceptor): keeps the accepted connections so
/// `HTTPServer.stop` can close them, also on an event loop group it does not own, and closes
/// those beyond the limit at once. Confined to the listening channel's event loop.
final class HTTPConnectionTracker: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let limit: Int?
    private var connections: [ObjectIdentifier: any Channel] = [:]
    private var stopped: EventLoopPromise<Void>?

    init(limit: Int?) {
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let connection = unwrapInboundIn(data)
        if let limit, connections.count >= limit {
            connection.close(promise: nil) // as the acceptor closes one its initializer refused
            return
        }
        let id = ObjectIdentifier(connection)
        connections[id] = connection
        connection.closeFuture.hop(to: context.eventLoop).assumeIsolated().whenComplete { _ in
            self.connections[id] = nil
            self.completeStopIfIdle()
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let stop = event as? HTTPStopEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        stopped = stop.done
        context.close(promise: nil)
        // The HTTP pipelining handler closes an idle connection at once, a busy one after its response.
        for connection in connections.values {
            connection.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        context.eventLoop.assumeIsolated().scheduleTask(in: stop.grace) {
            for connection in self.connections.values { connection.close(promise: nil) }
        }
        completeStopIfIdle()
    }

    private func completeStopIfIdle() {
        guard connections.isEmpty, let stopped else { return }
        self.stopped = nil
        stopped.succeed()
    }
}
