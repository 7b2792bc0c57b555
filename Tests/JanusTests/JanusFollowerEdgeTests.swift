import Testing
@testable import Janus

/// Errors, room ends, string ids, credentials.
@Suite struct JanusFollowerEdgeTests {
    typealias T = JanusTranscript

    /// create → attach ×2 → join sent (no answer yet).
    func joinSent(_ config: JanusFollowerConfig) -> T {
        var t = T(config)
        t.start()
        t.receive(T.success(t.sent[0].transaction, id: T.session, session: nil))
        let attaches = t.sent.filter { $0.verb == .attach }
        t.receive(T.success(attaches[0].transaction, id: T.watcher))
        t.receive(T.success(attaches[1].transaction, id: T.subscriber))
        return t
    }

    @Test func noSuchRoomIsFatal() throws {
        var t = joinSent(JanusFollowerConfig(room: .number(4321)))
        let join = try #require(t.last(.message, "join"))
        #expect(join.body?["room"] == .int(4321))
        t.receive(T.ack(join.transaction))
        t.receive(T.event(join.transaction, sender: T.watcher,
                          "{\"videoroom\":\"event\",\"error_code\":426,\"error\":\"No such room (4321)\"}"))
        #expect(t.takeEvents() == [.error(code: 426, reason: "No such room (4321)")])
        #expect(t.follower.failure == .init(code: 426, reason: "No such room (4321)"))
        #expect(t.follower.isEnded)
        #expect(t.follower.nextDeadline == nil)
    }

    @Test func wrongPinIsFatalAndThePinIsSent() throws {
        var t = joinSent(JanusFollowerConfig(room: .number(1234), pin: "9999", displayName: "rec"))
        let join = try #require(t.last(.message, "join"))
        #expect(join.body?["pin"] == .string("9999") && join.body?["display"] == .string("rec"))
        t.receive(T.event(join.transaction, sender: T.watcher,
                          "{\"videoroom\":\"event\",\"error_code\":433,\"error\":\"Unauthorized (wrong pin)\"}"))
        #expect(t.takeEvents() == [.error(code: 433, reason: "Unauthorized (wrong pin)")])
    }

    @Test func thePinGoesWithTheSubscriberJoinToo() throws {
        var t = T(JanusFollowerConfig(room: .number(1234), pin: "1111"))
        t.joinRoom()
        #expect(t.sent.last?.body?["pin"] == .string("1111"))
    }

    @Test func coreErrorsAtStartUpAreFatal() {
        var t = T()
        t.start()
        t.receive(T.error(t.sent[0].transaction, code: 403, reason: "Unauthorized request (wrong or missing secret/token)",
                          session: nil))
        #expect(t.takeEvents() == [.error(code: 403, reason: "create: Unauthorized request (wrong or missing secret/token)")])
        var u = T()
        u.start()
        u.receive(T.success(u.sent[0].transaction, id: T.session, session: nil))
        u.receive(T.error(u.sent[1].transaction, code: 460, reason: "No such plugin"))
        #expect(u.follower.failure?.code == 460)
    }

    @Test func roomDestroyedEndsTheFollower() {
        var t = T()
        t.joinRoom()
        t.attachBobAndAlice()
        _ = t.takeEvents()
        t.receive(T.event(nil, sender: T.watcher, "{\"videoroom\":\"destroyed\",\"room\":1234}"))
        t.receive(T.event(nil, sender: T.subscriber, "{\"videoroom\":\"destroyed\",\"room\":1234}"))
        #expect(t.takeEvents() == [.roomDestroyed])
        #expect(t.follower.isEnded)
        // Whatever follows is ignored.
        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"publishers\":[\(T.publisher("5", "x"))]")))
        #expect(t.takeEvents().isEmpty)
    }

    @Test func beingKickedEndsTheFollower() {
        var t = T()
        t.joinRoom()
        _ = t.takeEvents()
        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"leaving\":\"ok\",\"reason\":\"kicked\"")))
        #expect(t.takeEvents() == [.kicked])
        var u = T()
        u.joinRoom()
        _ = u.takeEvents()
        u.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"kicked\":\(T.alice)")))
        guard case .publishers(let list) = u.takeEvents().first else { Issue.record("no publishers"); return }
        #expect(list.map(\.display) == ["bob"])
    }

    @Test func stringRoomAndFeedIDs() throws {
        var t = T(JanusFollowerConfig(room: JanusRoomID("team-a")))
        t.start()
        t.receive(T.success(t.sent[0].transaction, id: T.session, session: nil))
        let attaches = t.sent.filter { $0.verb == .attach }
        t.receive(T.success(attaches[0].transaction, id: T.watcher))
        t.receive(T.success(attaches[1].transaction, id: T.subscriber))
        let join = try #require(t.last(.message, "join"))
        #expect(join.body?["room"] == .string("team-a"))
        #expect(join.text.contains("\"room\":\"team-a\""))
        t.receive(T.event(join.transaction, sender: T.watcher,
                          T.joined(publishers: [T.publisher("\"u-bob\"", "bob"), T.publisher("\"42\"", "digits")],
                                   room: "\"team-a\"", id: "\"rec-1\"")))
        let events = t.takeEvents()
        #expect(events.first == .joined(room: .string("team-a"), participantID: .string("rec-1")))
        guard case .publishers(let list) = events.last else { Issue.record("no publishers"); return }
        #expect(list.map(\.id) == [.string("u-bob"), .string("42")])
        let subscribe = try #require(t.sent.last)
        #expect(subscribe.body?["room"] == .string("team-a"))
        #expect(subscribe.body?["streams"] == .array([.object(["feed": .string("u-bob")]),
                                                      .object(["feed": .string("42")])]))
        t.receive(T.event(subscribe.transaction, sender: T.subscriber, T.streams("attached", [
            T.stream(mid: 0, type: "audio", feed: "\"u-bob\"", display: "bob"),
        ]), offer: "v=0"))
        guard case .offer(_, let streams) = t.takeEvents().first else { Issue.record("no offer"); return }
        #expect(streams.first?.feedID == .string("u-bob"))
        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"unpublished\":\"42\"")))
        guard case .publishers(let after) = t.takeEvents().first else { Issue.record("no publishers"); return }
        #expect(after.map(\.id) == [.string("u-bob")])
    }

    @Test func roomAndFeedIDsFromText() {
        #expect(JanusRoomID("1234") == .number(1234))
        #expect(JanusRoomID("team-a") == .string("team-a"))
        #expect(JanusRoomID("") == .string(""))
        #expect(JanusRoomID("-5") == .string("-5"))
        #expect(JanusRoomID("99999999999999999999999") == .string("99999999999999999999999"))
        #expect(JanusFeedID("18446744073709551615") == .number(.max))
        #expect(JanusFeedID("12a") == .string("12a"))
        #expect(JanusFeedID(json: .number("1.5")) == nil)
        #expect(JanusFeedID(json: .number("-1")) == nil)
        #expect(JanusFeedID(json: .bool(true)) == nil)
        #expect(JanusRoomID.number(7).json.text == "7" && JanusRoomID.string("7").json.text == "\"7\"")
    }

    @Test func apiSecretAndTokenGoWithEveryRequest() throws {
        var t = try T.subscribed(JanusFollowerConfig(room: .number(1234), apiSecret: "s3cret", token: "tok"))
        t.collect(t.follower.trickle(candidate: nil, mid: nil, now: t.now))
        t.poll(at: t.now + 30)
        t.collect(t.follower.stop(now: t.now))
        #expect(Set(t.sent.map(\.verb)) == [.create, .attach, .message, .trickle, .keepalive, .detach, .destroy])
        for request in t.sent {
            #expect(request.json["apisecret"] == .string("s3cret") && request.json["token"] == .string("tok"))
        }
        var plain = T()
        plain.joinRoom()
        #expect(plain.sent.allSatisfy { $0.json["apisecret"] == nil && $0.json["token"] == nil })
    }

    @Test func aFailedMultiFeedSubscriptionIsRetriedFeedByFeed() throws {
        var t = T()
        t.joinRoom()
        let join = try #require(t.sent.last)
        t.receive(T.event(join.transaction, sender: T.subscriber,
                          "{\"videoroom\":\"event\",\"error_code\":428,\"error\":\"No such feed (\(T.alice))\"}"))
        #expect(t.takeEvents().last == .warning(code: 428, reason: "join as subscriber: No such feed (\(T.alice))"))
        let retry = try #require(t.sent.last)
        #expect(retry.pluginRequest == "join" && retry.transaction != join.transaction)
        #expect(retry.body?["streams"] == .array([.object(["feed": .int(T.bob)])]))
        t.receive(T.event(retry.transaction, sender: T.subscriber, T.streams("attached", [
            T.stream(mid: 0, type: "audio", feed: "\(T.bob)"),
        ]), offer: "v=0"))
        try t.answerAndStart()
        let second = try #require(t.sent.last)
        #expect(second.body == .object(["request": .string("subscribe"), "streams": .array([.object(["feed": .int(T.alice)])])]))
        t.receive(T.event(second.transaction, sender: T.subscriber,
                          "{\"videoroom\":\"event\",\"error_code\":428,\"error\":\"No such feed\"}"))
        #expect(t.sent.last == second) // a feed that failed alone is not retried
    }

    @Test func sessionTimeoutStartsOver() throws {
        var t = T()
        t.joinRoom()
        _ = t.takeEvents()
        t.receive("{\"janus\":\"timeout\",\"session_id\":\(T.session)}")
        #expect(t.takeEvents() == [.sessionReset])
        #expect(t.sent.last?.verb == .create && t.follower.sessionID == nil)
    }

    @Test func messagesAfterALostSessionAreIgnored() {
        var t = T()
        t.joinRoom()
        t.receive("{\"janus\":\"timeout\",\"session_id\":\(T.session)}")
        let count = t.follower.ignoredCount
        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"unpublished\":\(T.bob)")))
        #expect(t.follower.ignoredCount == count + 1)
    }
}
