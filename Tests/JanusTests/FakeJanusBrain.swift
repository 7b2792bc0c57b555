import JSONText
@testable import Janus

/// A scripted Janus for the transport and client tests: answers the requests the follower sends
/// the way Janus 1.1.2 does, with events queued per session.
actor FakeJanusBrain {
    var nextID: UInt64 = 1000
    var sessions: Set<UInt64> = []
    /// Handle → session.
    var handles: [UInt64: UInt64] = [:]
    var roomExists = true
    var pin: String?
    var publishers: [(id: UInt64, display: String)] = [(7, "alice")]
    /// Every request received, parsed.
    var received: [JSONValue] = []
    /// Events waiting for a long poll, per session.
    var queued: [UInt64: [String]] = [:]
    var waiters: [UInt64: [CheckedContinuation<Void, Never>]] = [:]

    func configure(roomExists: Bool = true, pin: String? = nil) {
        self.roomExists = roomExists
        self.pin = pin
    }

    /// Forgets every session (as a restarted Janus would).
    func forgetSessions() {
        sessions = []
        handles = [:]
    }

    func requests(_ verb: String) -> [JSONValue] {
        received.filter { $0["janus"]?.string == verb }
    }

    /// The synchronous reply (success / error / ack) and the events the request causes.
    func handle(_ text: String) -> (reply: String, events: [String], session: UInt64?) {
        guard let request = try? JSONValue.parse(text), let verb = request["janus"]?.string else {
            return (#"{"janus":"error","error":{"code":454,"reason":"JSON error"}}"#, [], nil)
        }
        received.append(request)
        let transaction = request["transaction"]?.string ?? ""
        let session = request["session_id"]?.uint64
        func success(_ id: UInt64? = nil) -> String {
            var members: [String: JSONValue] = ["janus": .string("success"), "transaction": .string(transaction)]
            if let session { members["session_id"] = .int(session) }
            if let id { members["data"] = .object(["id": .int(id)]) }
            return JSONValue.object(members).text
        }
        func error(_ code: Int, _ reason: String) -> String {
            JSONValue.object(["janus": .string("error"), "transaction": .string(transaction),
                              "error": .object(["code": .int(code), "reason": .string(reason)])]).text
        }
        let ack = JSONValue.object(["janus": .string("ack"), "transaction": .string(transaction),
                                    "session_id": .int(session ?? 0)]).text
        if verb == "create" {
            nextID += 1
            sessions.insert(nextID)
            return (success(nextID), [], nil)
        }
        guard let session, sessions.contains(session) else {
            return (error(458, "No such session \(session ?? 0)"), [], nil)
        }
        switch verb {
        case "attach":
            nextID += 1
            handles[nextID] = session
            return (success(nextID), [], session)
        case "claim", "detach", "destroy":
            if verb == "destroy" { sessions.remove(session) }
            return (success(), [], session)
        case "keepalive", "trickle":
            return (ack, [], session)
        case "message":
            let handle = request["handle_id"]?.uint64 ?? 0
            let body = request["body"] ?? .null
            return (ack, [pluginEvent(body, transaction: transaction, session: session, handle: handle)], session)
        default:
            return (error(453, "Unknown request '\(verb)'"), [], session)
        }
    }

    func pluginEvent(_ body: JSONValue, transaction: String, session: UInt64, handle: UInt64) -> String {
        var data: [String: JSONValue] = ["videoroom": .string("event"), "room": .int(1234)]
        var jsep: JSONValue?
        switch (body["request"]?.string, body["ptype"]?.string) {
        case ("join", "publisher"):
            if !roomExists {
                data = ["videoroom": .string("event"), "error_code": .int(426), "error": .string("No such room (1234)")]
            } else if pin != nil, body["pin"] == nil {
                data = ["videoroom": .string("event"), "error_code": .int(429), "error": .string("Missing mandatory element (pin)")]
            } else if let pin, body["pin"]?.string != pin {
                data = ["videoroom": .string("event"), "error_code": .int(433), "error": .string("Unauthorized (wrong pin)")]
            } else {
                data = ["videoroom": .string("joined"), "room": .int(1234), "id": .int(55), "private_id": .int(66),
                        "publishers": .array(publishers.map {
                            .object(["id": .int($0.id), "display": .string($0.display), "streams": .array([
                                .object(["type": .string("audio"), "mindex": .int(0), "mid": .string("0")]),
                            ])])
                        })]
            }
        case ("join", "subscriber"):
            data = ["videoroom": .string("attached"), "room": .int(1234), "streams": .array(publishers.map {
                .object(["type": .string("audio"), "mid": .string("0"), "mindex": .int(0), "feed_id": .int($0.id),
                         "feed_display": .string($0.display), "active": .bool(true)])
            })]
            jsep = .object(["type": .string("offer"), "sdp": .string("v=0\r\nfake offer\r\n")])
        case ("start", _):
            data["started"] = .string("ok")
        case ("leave", _):
            data["leaving"] = .string("ok")
        default:
            data["error_code"] = .int(499)
            data["error"] = .string("unexpected request")
        }
        var event: [String: JSONValue] = [
            "janus": .string("event"), "session_id": .int(session), "transaction": .string(transaction),
            "sender": .int(handle),
            "plugindata": .object(["plugin": .string("janus.plugin.videoroom"), "data": .object(data)]),
        ]
        if let jsep { event["jsep"] = jsep }
        return JSONValue.object(event).text
    }

    // MARK: Long poll

    func enqueue(_ events: [String], session: UInt64) {
        guard !events.isEmpty else { return }
        queued[session, default: []] += events
        for waiter in waiters.removeValue(forKey: session) ?? [] { waiter.resume() }
    }

    /// Up to `max` queued events of the session, waiting up to `timeout` seconds for one.
    func poll(session: UInt64, max: Int, timeout: Double) async -> [String]? {
        guard sessions.contains(session) else { return nil }
        if queued[session, default: []].isEmpty {
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                waiters[session, default: []].append(waiter)
                Task {
                    try? await Task.sleep(for: .seconds(timeout))
                    self.wake(session)
                }
            }
        }
        let events = Array(queued[session, default: []].prefix(max))
        queued[session]?.removeFirst(events.count)
        return events
    }

    func wake(_ session: UInt64) {
        for waiter in waiters.removeValue(forKey: session) ?? [] { waiter.resume() }
    }
}
