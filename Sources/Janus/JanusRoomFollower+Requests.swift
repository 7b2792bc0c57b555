import JSONText

extension JanusRoomFollower {
    /// Which handle a request or event concerns.
    enum Role: Sendable, Equatable {
        case watcher, subscriber
    }

    /// What an outstanding transaction was for.
    enum PendingKind: Sendable, Equatable {
        case create
        case attach(Role)
        case joinWatcher
        case joinSubscriber([JanusFeedID])
        case subscribe([JanusFeedID])
        case unsubscribe([JanusFeedID])
        case start
        case listParticipants
        case keepalive
        case claim
        case trickle
        case leave
        case detach
        case destroy

        var name: String {
            switch self {
            case .create: "create"
            case .attach(let role): "attach (\(role))"
            case .joinWatcher: "join as publisher"
            case .joinSubscriber: "join as subscriber"
            case .subscribe: "subscribe"
            case .unsubscribe: "unsubscribe"
            case .start: "start"
            case .listParticipants: "listparticipants"
            case .keepalive: "keepalive"
            case .claim: "claim"
            case .trickle: "trickle"
            case .leave: "leave"
            case .detach: "detach"
            case .destroy: "destroy"
            }
        }

        /// Plugin requests are answered by an `ack`, then an `event` with the same transaction.
        var awaitsEvent: Bool {
            switch self {
            case .joinWatcher, .joinSubscriber, .subscribe, .unsubscribe, .start, .leave: true
            default: false
            }
        }
    }

    struct Pending: Sendable {
        var kind: PendingKind
        var deadline: Double
        var handle: UInt64?
    }

    /// Builds a request with a fresh transaction, registers it as pending, stamps the session time.
    mutating func issue(_ verb: JanusRequest.Verb, handle: UInt64? = nil, kind: PendingKind, plugin: String? = nil,
                        body: JSONValue? = nil, jsep: JSONValue? = nil, candidate: JSONValue? = nil,
                        now: Double) -> JanusRequest {
        transactionCounter += 1
        let transaction = "\(config.transactionPrefix)-\(transactionCounter)"
        let session = verb == .create ? nil : sessionID
        let request = JanusRequest(verb: verb, transaction: transaction, sessionID: session, handleID: handle,
                                   plugin: plugin, body: body, jsep: jsep, candidate: candidate,
                                   apiSecret: config.apiSecret, token: config.token)
        pending[transaction] = Pending(kind: kind, deadline: now + config.requestTimeoutSeconds, handle: handle)
        if session != nil { lastSessionSend = now }
        return request
    }

    /// Sends now, or holds the request until the claim succeeds when the transport is down.
    mutating func send(_ request: JanusRequest) -> [JanusRequest] {
        guard phase == .disconnected || phase == .claiming else { return [request] }
        if held.count < 256 { held.append(request) }
        return []
    }

    /// A plugin `message` on one of our handles.
    mutating func message(_ body: [String: JSONValue], handle: UInt64, kind: PendingKind, now: Double) -> JanusRequest {
        issue(.message, handle: handle, kind: kind, body: .object(body), now: now)
    }

    /// The `attach` request for one of the two handles.
    mutating func attachRequest(_ role: Role, now: Double) -> JanusRequest {
        issue(.attach, kind: .attach(role), plugin: Self.plugin, now: now)
    }

    /// The watcher's `join` as a publisher that never publishes.
    mutating func joinWatcherRequest(handle: UInt64, now: Double) -> JanusRequest {
        var body: [String: JSONValue] = ["request": .string("join"), "ptype": .string("publisher"),
                                         "room": config.room.json, "display": .string(config.displayName)]
        if let pin = config.pin { body["pin"] = .string(pin) }
        return message(body, handle: handle, kind: .joinWatcher, now: now)
    }
}
