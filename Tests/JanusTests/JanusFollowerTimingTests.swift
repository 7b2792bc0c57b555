import Testing
@testable import Janus

/// Keepalives, time-outs, reconnection with claim.
@Suite struct JanusFollowerTimingTests {
    typealias T = JanusTranscript

    @Test func keepalivesFollowTheLastRequest() throws {
        var t = try T.subscribed()
        let lastSend = t.now
        #expect(t.follower.nextDeadline == lastSend + 25)
        #expect(t.poll(at: lastSend + 24.9).isEmpty)
        let keepalive = try #require(t.poll(at: lastSend + 25).first)
        #expect(keepalive.verb == .keepalive && keepalive.sessionID == T.session && keepalive.handleID == nil)
        t.receive(T.ack(keepalive.transaction))
        #expect(t.follower.nextDeadline == lastSend + 50)
        // Any request on the session pushes the next keepalive back.
        t.now = lastSend + 40
        t.collect(t.follower.trickle(candidate: nil, mid: nil, now: t.now))
        t.receive(T.ack(t.sent.last!.transaction))
        #expect(t.follower.nextDeadline == lastSend + 65)
        // Over ten minutes of silence, one keepalive every 25 s, each well inside Janus's 60 s.
        var sentTimes: [Double] = []
        var clock = lastSend + 40
        while clock < lastSend + 640 {
            clock = t.follower.nextDeadline!
            for request in t.poll(at: clock) where request.verb == .keepalive {
                sentTimes.append(clock)
                t.receive(T.ack(request.transaction))
            }
        }
        #expect(sentTimes.count == 24)
        #expect(zip(sentTimes, sentTimes.dropFirst()).allSatisfy { $1 - $0 == 25 })
    }

    @Test func aCustomKeepaliveInterval() {
        var t = T(JanusFollowerConfig(room: .number(1), keepaliveSeconds: 10))
        t.joinRoom(publishers: [])
        #expect(t.follower.nextDeadline == t.now + 10)
    }

    @Test func anUnansweredKeepaliveFlagsTheTransport() {
        var t = T()
        t.joinRoom(publishers: [])
        let keepalive = t.poll(at: t.now + 25)
        #expect(keepalive.first?.verb == .keepalive)
        t.poll(at: t.now + 10)
        #expect(t.follower.transportProblem?.contains("keepalive") == true)
        t.follower.transportLost(now: t.now)
        #expect(t.follower.transportProblem == nil && t.follower.phase == .disconnected)
    }

    @Test func anUnansweredCreateIsFatal() {
        var t = T()
        t.start()
        #expect(t.follower.nextDeadline == t.now + 10)
        t.poll(at: t.now + 10)
        #expect(t.takeEvents() == [.error(code: 0, reason: "Janus did not answer create within 10.0 s")])
    }

    @Test func anUnansweredSubscribeIsDroppedAndTheRoundMovesOn() throws {
        var t = try T.subscribed()
        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"publishers\":[\(T.publisher("\(T.carol)", "carol"))]")))
        let subscribe = try #require(t.last(.message, "subscribe"))
        _ = t.takeEvents()
        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"unpublished\":\(T.alice)")))
        t.poll(at: t.now + 10)
        #expect(t.takeEvents().contains(.warning(code: 0, reason: "Janus did not answer subscribe within 10.0 s")))
        #expect(t.sent.last?.pluginRequest == "unsubscribe")
        // Its late answer still delivers the offer.
        t.receive(T.event(subscribe.transaction, sender: T.subscriber, T.streams("updated", []), offer: "v=0 late"))
        #expect(t.takeEvents().contains(.offer(sdp: "v=0 late", streams: [])))
    }

    @Test func reconnectClaimsTheSessionAndResends() throws {
        var t = T()
        t.joinRoom()
        t.attachBobAndAlice()
        _ = t.takeEvents()
        t.follower.transportLost(now: t.now)
        #expect(t.follower.phase == .disconnected && t.follower.nextDeadline == nil)
        #expect(t.poll(at: t.now + 100).isEmpty)
        // The owner answers while the transport is down: held.
        #expect(try t.answer().isEmpty)
        #expect(t.follower.trickle(candidate: "candidate:1 1 udp 1 10.0.0.1 1 typ host", mid: "0", now: t.now).isEmpty)

        let claim = try #require(t.follower.transportRestored(now: t.now).first)
        t.collect([claim])
        #expect(claim.verb == .claim && claim.sessionID == T.session)
        #expect(t.follower.phase == .claiming)
        t.receive(T.success(claim.transaction))
        #expect(t.follower.phase == .following)
        let resent = t.sent.suffix(3)
        #expect(resent.map(\.verb) == [.message, .trickle, .message])
        #expect(resent.first?.pluginRequest == "start")
        let list = try #require(resent.last)
        #expect(list.body == .object(["request": .string("listparticipants"), "room": .int(1234)]))
        #expect(list.handleID == T.watcher)

        // Meanwhile alice left and carol came.
        t.receive("{\"janus\":\"success\",\"session_id\":\(T.session),\"transaction\":\"\(list.transaction)\",\"sender\":\(T.watcher),"
                  + "\"plugindata\":{\"plugin\":\"janus.plugin.videoroom\",\"data\":{\"videoroom\":\"participants\",\"room\":1234,"
                  + "\"participants\":[{\"id\":\(T.bob),\"display\":\"bob\",\"publisher\":true},"
                  + "{\"id\":\(T.ownID),\"display\":\"flowrec-recorder\",\"publisher\":false},"
                  + "{\"id\":\(T.carol),\"display\":\"carol\",\"publisher\":true}]}}}")
        guard case .publishers(let publishers) = t.takeEvents().first else { Issue.record("no publishers"); return }
        #expect(publishers.map(\.display) == ["bob", "carol"])
        #expect(publishers[0].streams.count == 2) // what was known is kept
        let start = resent.first!
        t.receive(T.event(start.transaction, sender: T.subscriber, T.roomEvent("\"started\":\"ok\"")))
        #expect(t.sent.last?.pluginRequest == "unsubscribe")
    }

    @Test func aRefusedClaimStartsOverWithANewSession() throws {
        var t = T()
        t.joinRoom()
        t.attachBobAndAlice()
        _ = t.takeEvents()
        t.follower.transportLost(now: t.now)
        let claim = try #require(t.follower.transportRestored(now: t.now).first)
        t.collect([claim])
        t.receive(T.error(claim.transaction, code: 458, reason: "No such session \(T.session)"))
        #expect(t.takeEvents() == [.sessionReset])
        #expect(t.follower.phase == .settingUp && t.follower.sessionID == nil)
        #expect(throws: JanusFollowerError.noOfferToAnswer) { try t.answer() }
        let create = try #require(t.sent.last)
        #expect(create.verb == .create)

        // The whole set-up again, on a new session.
        let newSession: UInt64 = 111
        t.receive(T.success(create.transaction, id: newSession, session: nil))
        let attaches = t.sent.suffix(2)
        #expect(attaches.allSatisfy { $0.verb == .attach && $0.sessionID == newSession })
        t.receive(T.success(attaches.first!.transaction, id: 21, session: newSession))
        t.receive(T.success(attaches.last!.transaction, id: 22, session: newSession))
        let join = try #require(t.sent.last)
        #expect(join.handleID == 21 && join.pluginRequest == "join")
        t.receive(T.event(join.transaction, sender: 21, T.joined(publishers: [T.publisher("\(T.bob)", "bob")]),
                          session: newSession))
        let events = t.takeEvents()
        #expect(events.first == .joined(room: .number(1234), participantID: .number(T.ownID)))
        guard case .publishers(let list) = events.last else { Issue.record("no publishers"); return }
        #expect(list.map(\.display) == ["bob"])
        let subscribe = try #require(t.sent.last)
        #expect(subscribe.handleID == 22 && subscribe.body?["streams"] == .array([.object(["feed": .int(T.bob)])]))
        // Stale messages of the old session are dropped.
        let ignored = t.follower.ignoredCount
        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"unpublished\":\(T.bob)")))
        #expect(t.follower.ignoredCount == ignored + 1)
        #expect(t.follower.ignoredReasons.last == "event for abandoned session \(T.session)")
    }

    @Test func aDropDuringSetUpStartsOver() {
        var t = T()
        t.start()
        t.receive(T.success(t.sent[0].transaction, id: T.session, session: nil))
        t.follower.transportLost(now: t.now)
        let out = t.follower.transportRestored(now: t.now)
        #expect(out.map(\.verb) == [.create])
        #expect(t.follower.takeEvents().isEmpty) // the owner never saw a join: no reset to report
    }

    @Test func aDropWhileStoppingEnds() {
        var t = T()
        t.joinRoom()
        _ = t.follower.stop(now: t.now)
        t.follower.transportLost(now: t.now)
        #expect(t.follower.isEnded)
    }
}
