import NIOCore
import Synchronization

/// What one connection is doing, as its handlers report it: read by the listener's tracker (on
/// another event loop, hence the lock) to choose which connection to close when the server is full.
final class HTTPConnectionActivity: Sendable {
    struct State {
        /// When the first byte of the request being read arrived; nil between requests.
        var requestStarted: NIODeadline?
        /// A whole request is with the responder, or its response is being written.
        var responding = false
        /// When the connection last finished a request (or opened).
        var lastActive: NIODeadline
    }

    let state: Mutex<State>

    init(now: NIODeadline = .now()) {
        state = Mutex(State(lastActive: now))
    }

    /// Bytes of a request arrived; returns `now` when they began one (its deadline starts then),
    /// nil when a request was already under way.
    func bytesArrived(now: NIODeadline = .now()) -> NIODeadline? {
        state.withLock { state in
            guard state.requestStarted == nil, !state.responding else { return nil }
            state.requestStarted = now
            return now
        }
    }

    /// The request was read whole and went to the responder.
    func requestRead() {
        state.withLock { state in
            state.requestStarted = nil
            state.responding = true
        }
    }

    /// The response was written (or refused): back between requests.
    func responseWritten(now: NIODeadline = .now()) {
        state.withLock { state in
            state.responding = false
            state.lastActive = now
        }
    }

    /// How willing the server is to close this connection to admit a new one: an idle connection
    /// (the oldest first), then one still sending its request (the slowest first); never one whose
    /// request is being answered.
    var evictionRank: (tier: Int, since: NIODeadline)? {
        state.withLock { state in
            if state.responding { return nil }
            if let started = state.requestStarted { return (1, started) }
            return (0, state.lastActive)
        }
    }
}

/// The activity of every open connection of one listener, by channel.
final class HTTPConnectionRegistry: Sendable {
    private let activities = Mutex<[ObjectIdentifier: HTTPConnectionActivity]>([:])

    /// Registers `channel`'s activity until the channel closes.
    func track(_ channel: any Channel, _ activity: HTTPConnectionActivity) {
        let id = ObjectIdentifier(channel)
        activities.withLock { $0[id] = activity }
        channel.closeFuture.whenComplete { [self] _ in _ = activities.withLock { $0.removeValue(forKey: id) } }
    }

    func activity(of channel: any Channel) -> HTTPConnectionActivity? {
        activities.withLock { $0[ObjectIdentifier(channel)] }
    }
}

/// First in a connection's pipeline, on raw bytes: a request must arrive whole within `timeout` of
/// its first byte, or the connection closes (a slowloris client dribbling its head one byte at a
/// time is not kept alive by each byte, as the idle timeout alone would).
final class HTTPRequestDeadlineHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let activity: HTTPConnectionActivity
    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(activity: HTTPConnectionActivity, timeout: TimeAmount) {
        self.activity = activity
        self.timeout = timeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let started = activity.bytesArrived() {
            deadline?.cancel()
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [activity] in
                // Still the same request, still unread: too slow.
                guard activity.state.withLock({ $0.requestStarted == started && !$0.responding }) else { return }
                loopBound.value.close(promise: nil)
            }
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }
}
