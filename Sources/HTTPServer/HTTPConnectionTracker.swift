import NIOCore
import NIOHTTP1

/// Sent down the listening channel by `HTTPServer.stop`: stop accepting, let each connection finish
/// its current request, close whatever remains after `grace`, then complete `done`.
struct HTTPStopEvent: Sendable {
    var grace: TimeAmount
    var done: EventLoopPromise<Void>
}

/// In the listening channel's pipeline (before the acceptor): keeps the accepted connections so
/// `HTTPServer.stop` can close them, also on an event loop group it does not own, and at the limit
/// makes room for a new one by closing the oldest idle (else the slowest) connection, or refuses
/// it when every connection is being answered. Confined to the listening channel's event loop.
final class HTTPConnectionTracker: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let limit: Int?
    private let registry: HTTPConnectionRegistry
    private var connections: [ObjectIdentifier: any Channel] = [:]
    private var stopped: EventLoopPromise<Void>?

    init(limit: Int?, registry: HTTPConnectionRegistry = HTTPConnectionRegistry()) {
        self.limit = limit
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let connection = unwrapInboundIn(data)
        if let limit, connections.count >= limit {
            guard let victim = leastValuableConnection() else {
                connection.close(promise: nil) // as the acceptor closes one its initializer refused
                return
            }
            connections[ObjectIdentifier(victim)] = nil // its close completes later; the slot is taken now
            victim.close(promise: nil)
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

    /// The connection to close for a newcomer: idle ones first (longest idle), then those still
    /// sending a request (longest at it); nil when all are being answered.
    private func leastValuableConnection() -> (any Channel)? {
        var best: (channel: any Channel, rank: (tier: Int, since: NIODeadline))?
        for channel in connections.values {
            // A connection whose initializer has not run yet has just been accepted: leave it be.
            guard let rank = registry.activity(of: channel)?.evictionRank else { continue }
            if let current = best?.rank, (current.tier, current.since) <= (rank.tier, rank.since) { continue }
            best = (channel, rank)
        }
        return best?.channel
    }

    private func completeStopIfIdle() {
        guard connections.isEmpty, let stopped else { return }
        self.stopped = nil
        stopped.succeed()
    }
}
