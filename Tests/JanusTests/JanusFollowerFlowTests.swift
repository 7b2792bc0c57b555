import Testing
@testable import Janus

/// The follower through a whole room life: join, subscribe, renegotiate as publishers come and go.
@Suite struct JanusFollowerFlowTests {
    typealias T = JanusTranscript

    @Test func createAttachJoinSubscribeStartWebrtcUp() throws {
        var t = T()
        t.start()
        #expect(t.sent.count == 1)
        #expect(t.sent[0].verb == .create && t.sent[0].sessionID == nil)
        #expect(t.follower.phase == .settingUp)

        t.receive(T.success(t.sent[0].transaction, id: T.session, session: nil))
        let attaches = t.sent.filter { $0.verb == .attach }
        #expect(attaches.count == 2)
        #expect(attaches.allSatisfy { $0.plugin == "janus.plugin.videoroom" && $0.sessionID == T.session })
        #expect(Set(attaches.map(\.transaction)).count == 2)

        t.receive(T.success(attaches[0].transaction, id: T.watcher))
        let join = try #require(t.last(.message, "join"))
        #expect(join.handleID == T.watcher && join.sessionID == T.session)
        #expect(join.body == .object(["request": .string("join"), "ptype": .string("publisher"),
                                      "room": .int(1234), "display": .string("flowrec-recorder")]))
        t.receive(T.success(attaches[1].transaction, id: T.subscriber))
        #expect(t.sent.count == 4) // no subscription before the watcher has joined

        t.receive(T.ack(join.transaction))
        t.receive(T.event(join.transaction, sender: T.watcher,
                          T.joined(publishers: [T.publisher("\(T.bob)", "bob"), T.publisher("\(T.alice)", "alice")])))
        #expect(t.follower.phase == .following)
        let events = t.takeEvents()
        #expect(events.count == 2)
        #expect(events[0] == .joined(room: .number(1234), participantID: .number(T.ownID)))
        guard case .publishers(let list) = events[1] else { Issue.record("no publishers event"); return }
        #expect(list.map(\.id) == [.number(T.bob), .number(T.alice)])
        #expect(list[0].display == "bob" && list[0].streams.map(\.mid) == ["0", "1"])
        #expect(list[0].streams.map(\.type) == ["audio", "video"] && list[0].streams[0].codec == "opus")

        let subscribe = try #require(t.sent.last)
        #expect(subscribe.handleID == T.subscriber && subscribe.pluginRequest == "join")
        #expect(subscribe.body == .object([
            "request": .string("join"), "ptype": .string("subscriber"), "room": .int(1234),
            "private_id": .int(T.privateID),
            "streams": .array([.object(["feed": .int(T.bob)]), .object(["feed": .int(T.alice)])]),
        ]))

        t.receive(T.ack(subscribe.transaction))
        t.attachBobAndAlice()
        let offer = t.takeEvents()
        #expect(offer.count == 1)
        guard case .offer(let sdp, let streams) = offer.first else { Issue.record("no offer"); return }
        #expect(sdp == "v=0 offer1")
        #expect(streams.map(\.mid) == ["0", "1", "2", "3"])
        #expect(streams[0] == JanusSubscribedStream(mid: "0", type: "audio", feedID: .number(T.bob), feedDisplay: "bob",
                                                    active: true, feedMid: "0", mindex: 0))
        #expect(streams[3].feedID == .number(T.alice) && streams[3].feedDisplay == "alice" && streams[3].type == "video")

        try t.answer("v=0 my answer")
        let start = try #require(t.sent.last)
        #expect(start.verb == .message && start.handleID == T.subscriber)
        #expect(start.body == .object(["request": .string("start")]))
        #expect(start.jsep == .object(["type": .string("answer"), "sdp": .string("v=0 my answer")]))
        #expect(throws: JanusFollowerError.noOfferToAnswer) { try t.answer() }

        // Janus's event beats its ack, as it often does.
        t.receive(T.event(start.transaction, sender: T.subscriber, T.roomEvent("\"started\":\"ok\"")))
        t.receive(T.ack(start.transaction))
        t.receive("{\"janus\":\"trickle\",\"session_id\":\(T.session),\"sender\":\(T.subscriber),"
                  + "\"candidate\":{\"sdpMid\":\"0\",\"sdpMLineIndex\":0,\"candidate\":\"candidate:1 1 udp 2013266431 10.99.0.1 20000 typ host\"}}")
        t.receive("{\"janus\":\"trickle\",\"session_id\":\(T.session),\"sender\":\(T.subscriber),\"candidate\":{\"completed\":true}}")
        t.receive("{\"janus\":\"webrtcup\",\"session_id\":\(T.session),\"sender\":\(T.subscriber)}")
        t.receive("{\"janus\":\"media\",\"session_id\":\(T.session),\"sender\":\(T.subscriber),\"mid\":\"1\",\"type\":\"video\",\"receiving\":true}")
        t.receive("{\"janus\":\"slowlink\",\"session_id\":\(T.session),\"sender\":\(T.subscriber),\"mid\":\"1\",\"media\":\"video\",\"uplink\":false,\"lost\":12}")
        #expect(t.takeEvents() == [
            .remoteCandidate(mid: "0", sdpMLineIndex: 0, candidate: "candidate:1 1 udp 2013266431 10.99.0.1 20000 typ host"),
            .endOfCandidates, .webrtcUp, .media(mid: "1", type: "video", receiving: true),
            .slowLink(mid: "1", uplink: false, lost: 12),
        ])
        #expect(t.follower.ignoredCount == 0, "\(t.follower.ignoredReasons)")

        let ours = t.follower.trickle(candidate: "candidate:9 1 udp 1 10.99.0.2 5000 typ host", mid: "0",
                                      sdpMLineIndex: 0, now: t.now)
        #expect(ours.first?.verb == .trickle && ours.first?.handleID == T.subscriber)
        #expect(ours.first?.candidate == .object(["candidate": .string("candidate:9 1 udp 1 10.99.0.2 5000 typ host"),
                                                  "sdpMid": .string("0"), "sdpMLineIndex": .int(0)]))
        let done = t.follower.trickle(candidate: nil, mid: nil, now: t.now)
        #expect(done.first?.candidate == .object(["completed": .bool(true)]))
    }

    @Test func aThirdPublisherIsSubscribedWithAnUpdatedOffer() throws {
        var t = try T.subscribed()
        _ = t.takeEvents()
        let before = t.sent.count

        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"publishers\":[\(T.publisher("\(T.carol)", "carol"))]")))
        guard case .publishers(let list) = t.takeEvents().first else { Issue.record("no publishers"); return }
        #expect(list.map(\.display) == ["bob", "alice", "carol"])
        #expect(t.sent.count == before + 1)
        let subscribe = try #require(t.sent.last)
        #expect(subscribe.body == .object(["request": .string("subscribe"),
                                           "streams": .array([.object(["feed": .int(T.carol)])])]))
        #expect(subscribe.handleID == T.subscriber)

        t.receive(T.ack(subscribe.transaction))
        t.receive(T.event(subscribe.transaction, sender: T.subscriber, T.streams("updated", [
            T.stream(mid: 0, type: "audio", feed: "\(T.bob)", display: "bob"),
            T.stream(mid: 1, type: "video", feed: "\(T.bob)", display: "bob", feedMid: 1),
            T.stream(mid: 2, type: "audio", feed: "\(T.alice)", display: "alice"),
            T.stream(mid: 3, type: "video", feed: "\(T.alice)", display: "alice", feedMid: 1),
            T.stream(mid: 4, type: "audio", feed: "\(T.carol)", display: "carol"),
            T.stream(mid: 5, type: "video", feed: "\(T.carol)", display: "carol", feedMid: 1),
        ]), offer: "v=0 offer2"))
        guard case .offer(let sdp, let streams) = t.takeEvents().first else { Issue.record("no offer"); return }
        #expect(sdp == "v=0 offer2" && streams.count == 6 && streams[5].feedDisplay == "carol")
        try t.answerAndStart()
        #expect(t.last(.message)?.pluginRequest == "start")
        #expect(t.follower.ignoredCount == 0, "\(t.follower.ignoredReasons)")
    }

    @Test func anUnpublishedFeedIsUnsubscribed() throws {
        var t = try T.subscribed()
        _ = t.takeEvents()

        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"unpublished\":\(T.alice)")))
        #expect(t.takeEvents() == [.publishers([JanusPublisher(id: .number(T.bob), display: "bob", streams: [
            JanusPublisherStream(type: "audio", mid: "0", mindex: 0, codec: "opus"),
            JanusPublisherStream(type: "video", mid: "1", mindex: 1, codec: "vp8"),
        ])])])
        let unsubscribe = try #require(t.sent.last)
        #expect(unsubscribe.body == .object(["request": .string("unsubscribe"),
                                             "streams": .array([.object(["feed": .int(T.alice)])])]))
        // The `leaving` that follows changes nothing.
        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"leaving\":\(T.alice)")))
        #expect(t.takeEvents().isEmpty)
        t.receive(T.event(unsubscribe.transaction, sender: T.subscriber, T.streams("updated", [
            T.stream(mid: 0, type: "audio", feed: "\(T.bob)", display: "bob"),
            T.stream(mid: 1, type: "video", feed: "\(T.bob)", display: "bob", feedMid: 1),
            T.stream(mid: 2, type: "audio", feed: nil), T.stream(mid: 3, type: "video", feed: nil),
        ]), offer: "v=0 offer3"))
        guard case .offer(_, let streams) = t.takeEvents().first else { Issue.record("no offer"); return }
        #expect(streams.map(\.active) == [true, true, false, false])
        #expect(streams[2].feedID == nil)
        try t.answerAndStart()
        #expect(t.follower.subscribedStreams.count == 4)
    }

    @Test func janusRenegotiatesByItselfWhenAFeedLeaves() throws {
        // As Janus 1.1.2 does: the subscriber gets an `updated` offer before the watcher hears
        // `unpublished`; no unsubscribe is needed then.
        var t = try T.subscribed()
        _ = t.takeEvents()
        let before = t.sent.count
        t.receive(T.event(nil, sender: T.subscriber, T.streams("updated", [
            T.stream(mid: 0, type: "audio", feed: "\(T.bob)", display: "bob"),
            T.stream(mid: 1, type: "video", feed: "\(T.bob)", display: "bob", feedMid: 1),
            T.stream(mid: 2, type: "audio", feed: nil), T.stream(mid: 3, type: "video", feed: nil),
        ]), offer: "v=0 janus-offer"))
        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"unpublished\":\(T.alice)")))
        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"leaving\":\(T.alice)")))
        let events = t.takeEvents()
        #expect(events.count == 2)
        guard case .offer(let sdp, _) = events.first else { Issue.record("no offer"); return }
        #expect(sdp == "v=0 janus-offer")
        try t.answerAndStart()
        #expect(t.sent.count == before + 1) // only the start
        #expect(t.sent.last?.pluginRequest == "start")
    }

    @Test func changesWaitForTheOutstandingOfferAndAreCoalesced() throws {
        var t = T()
        t.joinRoom()
        t.attachBobAndAlice()
        _ = t.takeEvents()
        let before = t.sent.count
        let dave: UInt64 = 77
        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"publishers\":[\(T.publisher("\(T.carol)", "carol"))]")))
        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"publishers\":[\(T.publisher("\(dave)", "dave"))]")))
        #expect(t.sent.count == before) // the offer is not answered yet
        try t.answer()
        #expect(t.sent.count == before + 1 && t.sent.last?.pluginRequest == "start")
        let start = t.sent.last!
        t.receive(T.ack(start.transaction))
        #expect(t.sent.count == before + 1) // nor confirmed
        t.receive(T.event(start.transaction, sender: T.subscriber, T.roomEvent("\"started\":\"ok\"")))
        let subscribe = try #require(t.sent.last)
        #expect(subscribe.body == .object(["request": .string("subscribe"), "streams": .array([
            .object(["feed": .int(T.carol)]), .object(["feed": .int(dave)]),
        ])]))
        // While that subscribe is out, alice leaves: the unsubscribe waits for the next round.
        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"unpublished\":\(T.alice)")))
        #expect(t.sent.last == subscribe)
        t.receive(T.event(subscribe.transaction, sender: T.subscriber, T.streams("updated", [
            T.stream(mid: 0, type: "audio", feed: "\(T.bob)"), T.stream(mid: 2, type: "audio", feed: "\(T.alice)"),
            T.stream(mid: 4, type: "audio", feed: "\(T.carol)"), T.stream(mid: 6, type: "audio", feed: "\(dave)"),
        ]), offer: "v=0 offer"))
        #expect(t.sent.last == subscribe)
        try t.answerAndStart()
        #expect(t.sent.last?.body == .object(["request": .string("unsubscribe"),
                                              "streams": .array([.object(["feed": .int(T.alice)])])]))
    }

    @Test func aPostponedUpdateWaitsForJanussOffer() throws {
        var t = try T.subscribed()
        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"publishers\":[\(T.publisher("\(T.carol)", "carol"))]")))
        let subscribe = try #require(t.last(.message, "subscribe"))
        t.receive(T.event(subscribe.transaction, sender: T.subscriber, "{\"videoroom\":\"updating\",\"room\":1234}"))
        _ = t.takeEvents()
        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"unpublished\":\(T.bob)")))
        #expect(t.last(.message, "unsubscribe") == nil) // still waiting for the offer
        t.receive(T.event(nil, sender: T.subscriber, T.streams("updated", [
            T.stream(mid: 0, type: "audio", feed: "\(T.bob)"), T.stream(mid: 4, type: "audio", feed: "\(T.carol)"),
        ]), offer: "v=0 later"))
        #expect(t.takeEvents().contains { if case .offer(let sdp, _) = $0 { sdp == "v=0 later" } else { false } })
        try t.answerAndStart()
        #expect(t.sent.last?.pluginRequest == "unsubscribe")
    }

    @Test func anUpdatedWithoutJsepEndsTheRound() throws {
        var t = try T.subscribed()
        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"publishers\":[\(T.publisher("\(T.carol)", "carol"))]")))
        let subscribe = try #require(t.last(.message, "subscribe"))
        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"unpublished\":\(T.alice)")))
        t.receive(T.event(subscribe.transaction, sender: T.subscriber, "{\"videoroom\":\"updated\",\"room\":1234}"))
        #expect(t.sent.last?.pluginRequest == "unsubscribe")
    }

    @Test func aPublisherAddingAStreamIsSubscribedByMid() throws {
        var t = try T.subscribed()
        let screen = "{\"id\":\(T.bob),\"display\":\"bob\",\"streams\":[{\"type\":\"audio\",\"mid\":\"0\"},"
            + "{\"type\":\"video\",\"mid\":\"1\"},{\"type\":\"video\",\"mid\":\"2\",\"description\":\"screen\"}]}"
        t.receive(T.event(nil, sender: T.watcher, T.roomEvent("\"publishers\":[\(screen)]")))
        #expect(t.sent.last?.body == .object(["request": .string("subscribe"), "streams": .array([
            .object(["feed": .int(T.bob), "mid": .string("2")]),
        ])]))
    }

    @Test func hangupResubscribesOnANewHandle() throws {
        var t = try T.subscribed()
        _ = t.takeEvents()
        t.receive("{\"janus\":\"hangup\",\"session_id\":\(T.session),\"sender\":\(T.subscriber),\"reason\":\"ICE failed\"}")
        #expect(t.takeEvents() == [.hangup(reason: "ICE failed")])
        let detach = try #require(t.last(.detach))
        #expect(detach.handleID == T.subscriber)
        let attach = try #require(t.sent.last)
        #expect(attach.verb == .attach)
        t.receive(T.success(detach.transaction))
        t.receive("{\"janus\":\"detached\",\"session_id\":\(T.session),\"sender\":\(T.subscriber)}")
        t.receive(T.success(attach.transaction, id: 999))
        let join = try #require(t.sent.last)
        #expect(join.handleID == 999 && join.pluginRequest == "join" && join.body?["ptype"] == .string("subscriber"))
        #expect(join.body?["streams"]?.array?.count == 2)
        #expect(t.follower.ignoredCount == 0, "\(t.follower.ignoredReasons)")
    }

    @Test func stopLeavesDetachesAndDestroys() throws {
        var t = T()
        t.joinRoom()
        t.attachBobAndAlice()
        let out = t.follower.stop(now: t.now)
        #expect(out.map(\.verb) == [.message, .detach, .detach, .destroy])
        #expect(out[0].body == .object(["request": .string("leave")]) && out[0].handleID == T.watcher)
        #expect(out[1].handleID == T.subscriber && out[2].handleID == T.watcher)
        #expect(t.follower.phase == .stopping)
        t.receive(T.success(out[3].transaction))
        #expect(t.follower.isEnded)
    }

    @Test func stopBeforeASessionEndsAtOnce() {
        var t = T()
        t.start()
        #expect(t.follower.stop(now: t.now).isEmpty)
        #expect(t.follower.isEnded)
    }
}
