import Testing
@testable import Janus

/// Malformed and hostile input: never a crash, always counted with a reason.
@Suite struct JanusFollowerHostileTests {
    typealias T = JanusTranscript

    /// A follower that is following the room with an answered subscription.
    func following() throws -> T {
        var t = try T.subscribed()
        _ = t.takeEvents()
        return t
    }

    @Test func malformedMessagesAreCountedWithAReason() throws {
        var t = try following()
        let cases: [(String, String)] = [
            ("[1,2]", "not a JSON object but array"),
            ("\"hello\"", "not a JSON object but string"),
            ("{\"janus\":", "not JSON"),
            ("{}", "no string \"janus\" member"),
            ("{\"janus\":7}", "no string \"janus\" member"),
            ("{\"janus\":\"success\"}", "success without a transaction"),
            ("{\"janus\":\"ack\",\"transaction\":{}}", "ack: transaction is object"),
            ("{\"janus\":\"success\",\"transaction\":\"nope\"}", "success for unknown transaction nope"),
            ("{\"janus\":\"event\",\"session_id\":-1}", "event: session_id is not a 64-bit id"),
            ("{\"janus\":\"event\",\"session_id\":1e999}", "event: session_id is not a 64-bit id"),
            ("{\"janus\":\"event\",\"session_id\":99999999999999999999999999}", "event: session_id is not a 64-bit id"),
            ("{\"janus\":\"event\",\"sender\":true}", "event: sender is not a 64-bit id"),
            ("{\"janus\":\"event\",\"plugindata\":{\"data\":[]}}", "event: plugindata.data is not an object"),
            ("{\"janus\":\"event\",\"jsep\":{\"type\":1}}", "event: jsep without string type and sdp"),
            ("{\"janus\":\"event\"}", "event without plugindata.data"),
            ("{\"janus\":\"event\",\"plugindata\":{\"data\":{}}}", "event without a sender"),
            ("{\"janus\":\"event\",\"sender\":5,\"plugindata\":{\"data\":{}}}", "event from unknown handle 5"),
            ("{\"janus\":\"webrtcup\"}", "webrtcup without a sender"),
            ("{\"janus\":\"error\",\"error\":{\"code\":490,\"reason\":\"Bad\"}}", "error 490 without a transaction: Bad"),
            ("{\"janus\":\"surprise\"}", "unknown message kind \"surprise\""),
            ("{\"janus\":\"event\",\"session_id\":5,\"sender\":1}", "event for session 5, ours is \(T.session)"),
            ("{\"janus\":\"trickle\",\"sender\":\(T.subscriber),\"candidate\":3}", "trickle without a candidate object"),
            ("{\"janus\":\"trickle\",\"sender\":\(T.subscriber),\"candidate\":{}}", "trickle candidate without a candidate line"),
            (T.event(nil, sender: T.watcher, T.roomEvent("\"publishers\":[{\"display\":\"no id\"}]")),
             "publisher entry without a usable id"),
            (T.event(nil, sender: T.watcher, T.roomEvent("\"unpublished\":[1]")), "publisher removal with a array id"),
            (T.event(nil, sender: T.watcher, "{\"videoroom\":\"weird\"}"), "watcher event \"weird\""),
            (T.event(nil, sender: T.subscriber, "{\"room\":1}"), "subscriber event without videoroom"),
            (T.event(nil, sender: T.subscriber, T.streams("updated", []))
                .replacingJsep("{\"type\":\"answer\",\"sdp\":\"x\"}"), "subscription jsep of type answer"),
        ]
        for (position, (text, reason)) in cases.enumerated() {
            t.receive(text)
            #expect(t.follower.ignoredCount == position + 1, "\(text)")
            #expect(t.follower.ignoredReasons.last?.hasPrefix(reason) == true,
                    "\(text): \(t.follower.ignoredReasons.last ?? "nothing")")
        }
        #expect(t.follower.phase == .following)
        #expect(t.follower.ignoredReasons.count == min(cases.count, JanusRoomFollower.keptIgnoreReasons))
    }

    @Test func wrongTypesInsideKnownEventsDoNotConfuse() throws {
        var t = try following()
        // Streams with missing or mistyped members are skipped; the offer still arrives.
        t.receive(T.event(nil, sender: T.subscriber,
                          "{\"videoroom\":\"updated\",\"streams\":[{\"mid\":5},{\"type\":\"audio\"},7,{\"type\":\"audio\",\"mid\":\"0\",\"feed_id\":\"x\",\"active\":\"yes\"}]}",
                          offer: "v=0"))
        guard case .offer(_, let streams) = t.takeEvents().first else { Issue.record("no offer"); return }
        #expect(streams == [JanusSubscribedStream(mid: "0", type: "audio", feedID: .string("x"), feedDisplay: nil, active: true)])
        // A joined event on the watcher handle that answers nothing is ignored quietly.
        t.receive(T.event(nil, sender: T.watcher, T.joined(publishers: [])))
        #expect(t.follower.publishers.count == 2)
        // Publishers with wrong member types keep what is usable.
        t.receive(T.event(nil, sender: T.watcher,
                          T.roomEvent("\"publishers\":[{\"id\":9,\"display\":5,\"streams\":\"none\"}]")))
        #expect(t.follower.publishers.last == JanusPublisher(id: .number(9)))
    }

    @Test func hugeMessagesAndDeepNesting() throws {
        var t = try following()
        let big = String(repeating: "x", count: 2_000_000)
        t.receive("{\"janus\":\"event\",\"sender\":\(T.watcher),\"plugindata\":{\"data\":{\"videoroom\":\"event\",\"junk\":\"\(big)\"}}}")
        t.receive(String(repeating: "{\"a\":", count: 50_000))
        #expect(t.follower.ignoredReasons.last?.contains("nesting deeper") == true)
        #expect(t.follower.phase == .following)
    }
}

extension String {
    /// Puts a jsep member with the given object text into an event text.
    func replacingJsep(_ jsep: String) -> String {
        String(dropLast()) + ",\"jsep\":\(jsep)}"
    }
}
