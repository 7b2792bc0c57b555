import JSONText

/// The sans-IO core of the Janus client: follows one videoroom as a silent participant.
///
/// It creates a session, attaches two `janus.plugin.videoroom` handles, joins the room on the
/// *watcher* handle as a publisher that never publishes (so it hears `publishers`, `unpublished`,
/// `leaving`, `kicked`), and keeps one multistream subscription on the *subscriber* handle that
/// covers every publisher's streams: `join` as subscriber the first time, then `subscribe` /
/// `unsubscribe`, one renegotiation at a time. Janus's offers reach the owner as
/// ``JanusEvent/offer(sdp:streams:)``; the owner's answer goes back with ``answer(sdp:now:)``.
///
/// The driver sends what the methods return, feeds every received JSON text to
/// ``receive(_:now:)``, drains ``takeEvents()``, and calls ``poll(now:)`` at ``nextDeadline``
/// (keepalives, request time-outs). After a transport drop it calls ``transportLost(now:)``,
/// reconnects, then ``transportRestored(now:)`` (a `claim`, or a new session when that fails).
/// Times are seconds on a monotonic clock; the core reads no clock.
public struct JanusRoomFollower: Sendable {
    /// Where the follower is in its life.
    public enum Phase: Sendable, Equatable {
        /// `start` not called yet.
        case idle
        /// Creating the session, attaching the handles, joining the room.
        case settingUp
        /// Joined: following the room.
        case following
        /// The transport is down; waiting for ``transportRestored(now:)``.
        case disconnected
        /// Reconnected; the `claim` is out.
        case claiming
        /// `stop` called: leave, detach and destroy are out.
        case stopping
        /// Stopped, or ended by the room (destroyed, kicked) or by a fatal error (``failure``).
        case ended
    }

    /// A fatal error: what the follower ended on.
    public struct Failure: Sendable, Equatable {
        public var code: Int
        public var reason: String
    }

    /// The plugin both handles attach to.
    public static let plugin = "janus.plugin.videoroom"
    /// How many ignore reasons ``ignoredReasons`` keeps (the latest ones).
    public static let keptIgnoreReasons = 32

    public let config: JanusFollowerConfig
    public internal(set) var phase = Phase.idle
    public internal(set) var sessionID: UInt64?
    public internal(set) var watcherHandle: UInt64?
    public internal(set) var subscriberHandle: UInt64?
    /// The watcher's id in the room, and the `private_id` its subscriptions carry.
    public internal(set) var participantID: JanusFeedID?
    public internal(set) var privateID: UInt64?
    /// The room's publishers in order of appearance.
    public internal(set) var publishers: [JanusPublisher] = []
    /// The subscription's m-lines as of the latest `attached` / `updated`.
    public var subscribedStreams: [JanusSubscribedStream] { subscription.streams }
    /// Set when the follower ended on an error.
    public internal(set) var failure: Failure?
    /// Incoming messages ignored (malformed, unknown, stale), and the latest reasons.
    public internal(set) var ignoredCount = 0
    public internal(set) var ignoredReasons: [String] = []
    /// Set when the transport looks dead (a keepalive or claim went unanswered): the driver should
    /// close it and reconnect. Cleared by ``transportLost(now:)``.
    public internal(set) var transportProblem: String?

    var events: [JanusEvent] = []
    var pending: [String: Pending] = [:]
    var transactionCounter = 0
    /// When the last request on the session went out (keepalives count from it).
    var lastSessionSend: Double = 0
    var subscription = Subscription()
    /// Whether the watcher has joined since the session was created.
    var watcherJoined = false
    /// Whether the owner ever saw `.joined` (a later new session is then a `.sessionReset`).
    var everJoined = false
    /// Requests made while disconnected, sent after a successful claim.
    var held: [JanusRequest] = []
    /// The phase the transport dropped in.
    var phaseBeforeLoss = Phase.idle
    /// The last publisher list the owner was told.
    var announcedPublishers: [JanusPublisher]?
    var roomDestroyedAnnounced = false
    /// Handles we detached or lost: their late notices are dropped quietly.
    var retiredHandles: Set<UInt64> = []
    /// Sessions given up: their late messages are dropped quietly.
    var retiredSessions: Set<UInt64> = []

    public init(config: JanusFollowerConfig) {
        self.config = config
    }

    /// Starts: the `create` request.
    public mutating func start(now: Double) -> [JanusRequest] {
        guard phase == .idle else { return [] }
        phase = .settingUp
        return [issue(.create, kind: .create, now: now)]
    }

    /// Handles one JSON text from the transport; returns the requests it causes.
    public mutating func receive(_ text: String, now: Double) -> [JanusRequest] {
        switch JanusMessage.decode(text) {
        case .failure(let reason):
            ignore(reason.description)
            return []
        case .success(let message):
            var out: [JanusRequest] = []
            handle(message, now: now, out: &out)
            return out
        }
    }

    /// The owner's SDP answer to the latest offer: a `start` request with the JSEP.
    /// - Throws: ``JanusFollowerError/noOfferToAnswer`` when no offer awaits an answer (e.g. it was
    ///   superseded by a session reset).
    public mutating func answer(sdp: String, now: Double) throws(JanusFollowerError) -> [JanusRequest] {
        guard subscription.offerOutstanding, let handle = subscriberHandle else { throw .noOfferToAnswer }
        subscription.offerOutstanding = false
        let request = issue(.message, handle: handle, kind: .start,
                            body: .object(["request": .string("start")]),
                            jsep: .object(["type": .string("answer"), "sdp": .string(sdp)]), now: now)
        subscription.startTransaction = request.transaction
        return send(request)
    }

    /// One of our ICE candidates for the subscription (`candidate` nil: gathering is complete).
    /// Dropped when there is no subscription handle.
    public mutating func trickle(candidate: String?, mid: String?, sdpMLineIndex: Int? = nil,
                                 now: Double) -> [JanusRequest] {
        guard let handle = subscriberHandle, phase == .following || phase == .disconnected || phase == .claiming else {
            return []
        }
        let value: JSONValue
        if let candidate {
            var members: [String: JSONValue] = ["candidate": .string(candidate)]
            if let mid { members["sdpMid"] = .string(mid) }
            if let sdpMLineIndex { members["sdpMLineIndex"] = .int(sdpMLineIndex) }
            if mid == nil && sdpMLineIndex == nil { members["sdpMLineIndex"] = .int(0) }
            value = .object(members)
        } else {
            value = .object(["completed": .bool(true)])
        }
        return send(issue(.trickle, handle: handle, kind: .trickle, candidate: value, now: now))
    }

    /// What happened since the last call.
    public mutating func takeEvents() -> [JanusEvent] {
        defer { events = [] }
        return events
    }

    /// Records an ignored message.
    mutating func ignore(_ reason: String) {
        ignoredCount += 1
        ignoredReasons.append(reason)
        if ignoredReasons.count > Self.keptIgnoreReasons { ignoredReasons.removeFirst() }
    }

    /// Ends the follower on a fatal error.
    mutating func fail(code: Int, reason: String) {
        guard phase != .ended else { return }
        failure = Failure(code: code, reason: reason)
        phase = .ended
        pending = [:]
        events.append(.error(code: code, reason: reason))
    }
}

/// Why the follower refused a call.
public enum JanusFollowerError: Error, Sendable, Equatable {
    /// `answer` without an offer awaiting one.
    case noOfferToAnswer
}
