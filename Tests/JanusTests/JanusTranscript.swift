@testable import Janus

/// Drives a follower the way a driver would, with Janus's side written as JSON texts shaped like
/// what Janus 1.1.2 sends (taken from a real session's trace).
struct JanusTranscript {
    static let session: UInt64 = 3_252_577_871_828_243
    static let watcher: UInt64 = 1_728_941_883_946_899
    static let subscriber: UInt64 = 4_396_155_567_950_149
    static let ownID: UInt64 = 5_797_954_078_987_322
    static let privateID: UInt64 = 1_292_606_065
    static let bob: UInt64 = 6_870_622_968_523_456
    static let alice: UInt64 = 1_021_279_848_701_153
    static let carol: UInt64 = 3_547_182_683_709_364

    var follower: JanusRoomFollower
    var now: Double = 1000
    /// Everything the follower sent, in order.
    var sent: [JanusRequest] = []
    /// Everything it told the owner, in order.
    var events: [JanusEvent] = []

    init(_ config: JanusFollowerConfig = JanusFollowerConfig(room: .number(1234))) {
        follower = JanusRoomFollower(config: config)
    }

    /// Feeds one message; returns the requests it caused.
    @discardableResult
    mutating func receive(_ text: String) -> [JanusRequest] {
        let out = follower.receive(text, now: now)
        collect(out)
        return out
    }

    mutating func collect(_ out: [JanusRequest]) {
        sent += out
        events += follower.takeEvents()
    }

    /// Takes the events seen so far.
    mutating func takeEvents() -> [JanusEvent] {
        defer { events = [] }
        return events
    }

    @discardableResult
    mutating func start() -> [JanusRequest] {
        let out = follower.start(now: now)
        collect(out)
        return out
    }

    @discardableResult
    mutating func answer(_ sdp: String = "v=0 answer") throws -> [JanusRequest] {
        let out = try follower.answer(sdp: sdp, now: now)
        collect(out)
        return out
    }

    @discardableResult
    mutating func poll(at time: Double) -> [JanusRequest] {
        now = time
        let out = follower.poll(now: now)
        collect(out)
        return out
    }

    /// The latest request sent with this verb (and plugin request name).
    func last(_ verb: JanusRequest.Verb, _ pluginRequest: String? = nil) -> JanusRequest? {
        sent.last { $0.verb == verb && (pluginRequest == nil || $0.pluginRequest == pluginRequest) }
    }

    // MARK: Janus's side

    static func success(_ transaction: String, id: UInt64? = nil, session: UInt64? = session) -> String {
        var parts = ["\"janus\":\"success\"", "\"transaction\":\"\(transaction)\""]
        if let session { parts.append("\"session_id\":\(session)") }
        if let id { parts.append("\"data\":{\"id\":\(id)}") }
        return "{" + parts.joined(separator: ",") + "}"
    }

    static func ack(_ transaction: String) -> String {
        "{\"janus\":\"ack\",\"session_id\":\(session),\"transaction\":\"\(transaction)\"}"
    }

    static func error(_ transaction: String, code: Int, reason: String, session: UInt64? = session) -> String {
        let sessionPart = session.map { ",\"session_id\":\($0)" } ?? ""
        return "{\"janus\":\"error\"\(sessionPart),\"transaction\":\"\(transaction)\",\"error\":{\"code\":\(code),\"reason\":\"\(reason)\"}}"
    }

    /// A videoroom event; `data` is the plugin data object's text.
    static func event(_ transaction: String?, sender: UInt64, _ data: String, offer: String? = nil,
                      session: UInt64 = session) -> String {
        let transactionPart = transaction.map { ",\"transaction\":\"\($0)\"" } ?? ""
        let jsepPart = offer.map { ",\"jsep\":{\"type\":\"offer\",\"sdp\":\"\($0)\"}" } ?? ""
        return "{\"janus\":\"event\",\"session_id\":\(session)\(transactionPart),\"sender\":\(sender),"
            + "\"plugindata\":{\"plugin\":\"janus.plugin.videoroom\",\"data\":\(data)}\(jsepPart)}"
    }

    static func publisher(_ id: String, _ display: String) -> String {
        "{\"id\":\(id),\"display\":\"\(display)\",\"audio_codec\":\"opus\",\"video_codec\":\"vp8\",\"streams\":["
            + "{\"type\":\"audio\",\"mindex\":0,\"mid\":\"0\",\"codec\":\"opus\",\"talking\":false},"
            + "{\"type\":\"video\",\"mindex\":1,\"mid\":\"1\",\"codec\":\"vp8\"}],\"talking\":false}"
    }

    static func joined(publishers: [String], room: String = "1234", id: String = "\(ownID)") -> String {
        "{\"videoroom\":\"joined\",\"room\":\(room),\"description\":\"flowrec test room\",\"id\":\(id),"
            + "\"private_id\":\(privateID),\"publishers\":[\(publishers.joined(separator: ","))]}"
    }

    /// One subscription m-line; nil feed: inactive.
    static func stream(mid: Int, type: String, feed: String?, display: String = "", feedMid: Int = 0) -> String {
        guard let feed else {
            return "{\"type\":\"\(type)\",\"active\":false,\"mindex\":\(mid),\"mid\":\"\(mid)\",\"ready\":false,\"send\":true}"
        }
        return "{\"type\":\"\(type)\",\"active\":true,\"mindex\":\(mid),\"mid\":\"\(mid)\",\"ready\":false,\"send\":true,"
            + "\"feed_id\":\(feed),\"feed_display\":\"\(display)\",\"feed_mid\":\"\(feedMid)\",\"codec\":\"opus\"}"
    }

    static func streams(_ kind: String, _ list: [String]) -> String {
        "{\"videoroom\":\"\(kind)\",\"room\":1234,\"streams\":[\(list.joined(separator: ","))]}"
    }

    static func roomEvent(_ member: String) -> String {
        "{\"videoroom\":\"event\",\"room\":1234,\(member)}"
    }

    // MARK: Common openings

    /// create → attach ×2 → join publisher → joined with `publishers`.
    mutating func joinRoom(publishers: [String] = [publisher("\(bob)", "bob"), publisher("\(alice)", "alice")]) {
        start()
        receive(Self.success(sent[0].transaction, id: Self.session, session: nil))
        let attaches = sent.filter { $0.verb == .attach }
        receive(Self.success(attaches[0].transaction, id: Self.watcher))
        receive(Self.success(attaches[1].transaction, id: Self.subscriber))
        let join = last(.message, "join")!
        receive(Self.ack(join.transaction))
        receive(Self.event(join.transaction, sender: Self.watcher, Self.joined(publishers: publishers)))
    }

    /// After ``joinRoom``: Janus attaches bob and alice with an offer.
    mutating func attachBobAndAlice(offer: String = "v=0 offer1") {
        let join = last(.message, "join")!
        receive(Self.event(join.transaction, sender: Self.subscriber, Self.streams("attached", [
            Self.stream(mid: 0, type: "audio", feed: "\(Self.bob)", display: "bob", feedMid: 0),
            Self.stream(mid: 1, type: "video", feed: "\(Self.bob)", display: "bob", feedMid: 1),
            Self.stream(mid: 2, type: "audio", feed: "\(Self.alice)", display: "alice", feedMid: 0),
            Self.stream(mid: 3, type: "video", feed: "\(Self.alice)", display: "alice", feedMid: 1),
        ]), offer: offer))
    }

    /// The usual starting point: the room joined (``joinRoom``), bob and alice attached
    /// (``attachBobAndAlice``), answered and started (``answerAndStart``).
    static func subscribed(_ config: JanusFollowerConfig = JanusFollowerConfig(room: .number(1234))) throws -> JanusTranscript {
        var t = JanusTranscript(config)
        t.joinRoom()
        t.attachBobAndAlice()
        try t.answerAndStart()
        return t
    }

    /// Answers the outstanding offer and lets Janus confirm with `started`.
    mutating func answerAndStart(_ sdp: String = "v=0 answer") throws {
        try answer(sdp)
        let start = last(.message, "start")!
        receive(Self.ack(start.transaction))
        receive(Self.event(start.transaction, sender: Self.subscriber, Self.roomEvent("\"started\":\"ok\"")))
    }
}
