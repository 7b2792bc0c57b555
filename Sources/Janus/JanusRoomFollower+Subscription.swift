import JSONText

extension JanusRoomFollower {
    /// The multistream subscription on the subscriber handle.
    struct Subscription: Sendable {
        /// The subscriber `join` succeeded (`attached`).
        var joined = false
        /// The feeds asked for, with the publisher mids known at the time.
        var requested: [JanusFeedID: Set<String>] = [:]
        /// Feeds to ask for one per request (a request naming several of them failed).
        var singly: Set<JanusFeedID> = []
        /// The join / subscribe / unsubscribe whose event is awaited.
        var requestTransaction: String?
        /// The `start` (answer) whose `started` is awaited.
        var startTransaction: String?
        /// Janus postponed our update (`updating`): its offer comes later, by this time.
        var postponedUntil: Double?
        /// An offer went to the owner and awaits `answer`.
        var offerOutstanding = false
        var streams: [JanusSubscribedStream] = []

        /// A renegotiation is under way: changes wait.
        var busy: Bool {
            requestTransaction != nil || startTransaction != nil || postponedUntil != nil || offerOutstanding
        }
    }

    /// Brings the subscription in line with the publishers: unsubscribes from feeds that left, then
    /// subscribes to new feeds (and to new streams of known ones). One request at a time.
    mutating func reconcile(now: Double, out: inout [JanusRequest]) {
        guard phase == .following, let handle = subscriberHandle, !subscription.busy else { return }
        var desired: [JanusFeedID: Set<String>] = [:]
        for publisher in publishers where publisher.streams.isEmpty || !publisher.activeMids.isEmpty {
            desired[publisher.id] = publisher.activeMids
        }
        if subscription.joined {
            let gone = subscription.requested.keys.filter { desired[$0] == nil }.sorted { $0.description < $1.description }
            if !gone.isEmpty {
                for feed in gone {
                    subscription.requested[feed] = nil
                    subscription.singly.remove(feed)
                }
                // Janus drops the m-lines of a feed that left by itself; ask only for live ones.
                let live = gone.filter { feed in subscription.streams.contains { $0.active && $0.feedID == feed } }
                if !live.isEmpty {
                    let streams = live.map { JSONValue.object(["feed": $0.json]) }
                    let request = message(["request": .string("unsubscribe"), "streams": .array(streams)],
                                          handle: handle, kind: .unsubscribe(live), now: now)
                    subscription.requestTransaction = request.transaction
                    out += send(request)
                    return
                }
            }
        }
        var additions: [(feed: JanusFeedID, streams: [JSONValue])] = []
        for publisher in publishers {
            guard let mids = desired[publisher.id] else { continue }
            if let known = subscription.requested[publisher.id] {
                let new = mids.subtracting(known).sorted()
                guard subscription.joined, !new.isEmpty else { continue }
                additions.append((publisher.id, new.map { .object(["feed": publisher.id.json, "mid": .string($0)]) }))
            } else {
                additions.append((publisher.id, [.object(["feed": publisher.id.json])]))
            }
        }
        if let single = additions.first(where: { subscription.singly.contains($0.feed) }) {
            subscription.singly.remove(single.feed)
            additions = [single]
        }
        guard !additions.isEmpty else { return }
        let feeds = additions.map(\.feed)
        for feed in feeds { subscription.requested[feed, default: []].formUnion(desired[feed] ?? []) }
        let streams = JSONValue.array(additions.flatMap(\.streams))
        let request: JanusRequest
        if subscription.joined {
            request = message(["request": .string("subscribe"), "streams": streams], handle: handle,
                              kind: .subscribe(feeds), now: now)
        } else {
            var body: [String: JSONValue] = ["request": .string("join"), "ptype": .string("subscriber"),
                                             "room": config.room.json, "streams": streams]
            if let privateID { body["private_id"] = .int(privateID) }
            if let pin = config.pin { body["pin"] = .string(pin) }
            request = message(body, handle: handle, kind: .joinSubscriber(feeds), now: now)
        }
        subscription.requestTransaction = request.transaction
        out += send(request)
    }

    /// The event answering our join / subscribe / unsubscribe.
    mutating func subscriptionAnswer(_ kind: PendingKind, data: JSONValue, jsep: (type: String, sdp: String)?,
                                     errorCode: Int?, errorText: String, now: Double, out: inout [JanusRequest]) {
        subscription.requestTransaction = nil
        if let errorCode {
            events.append(.warning(code: errorCode, reason: "\(kind.name): \(errorText)"))
            return subscriptionFailed(kind, now: now, out: &out)
        }
        switch data["videoroom"]?.string {
        case "attached", "updated":
            if data["videoroom"]?.string == "attached" { subscription.joined = true }
            applyStreams(data)
            offerReceived(jsep)
        case "updating":
            subscription.postponedUntil = now + config.requestTimeoutSeconds
        case let other:
            ignore("answer to \(kind.name) is \(other.map { "\"\($0)\"" } ?? "not a videoroom event")")
        }
        reconcile(now: now, out: &out)
    }

    /// A join or subscribe failed: feeds asked for together are retried one by one; a feed that
    /// failed alone is given up until its publisher leaves and comes back.
    mutating func subscriptionFailed(_ kind: PendingKind, now: Double, out: inout [JanusRequest]) {
        subscription.requestTransaction = nil
        switch kind {
        case .joinSubscriber(let feeds), .subscribe(let feeds):
            if feeds.count > 1 {
                for feed in feeds {
                    subscription.requested[feed] = nil
                    subscription.singly.insert(feed)
                }
            }
        default:
            break
        }
        reconcile(now: now, out: &out)
    }

    /// The feeds of a subscription request kind.
    func subscriptionKindFeeds(_ kind: PendingKind) -> [JanusFeedID]? {
        switch kind {
        case .joinSubscriber(let feeds), .subscribe(let feeds), .unsubscribe(let feeds): feeds
        default: nil
        }
    }

    /// News on the subscriber handle that answers none of our requests.
    mutating func subscriberEvent(_ data: JSONValue, jsep: (type: String, sdp: String)?, now: Double,
                                  out: inout [JanusRequest]) {
        switch data["videoroom"]?.string {
        case "attached", "updated":
            // Janus renegotiates by itself, e.g. when a publisher we receive leaves.
            applyStreams(data)
            offerReceived(jsep)
            reconcile(now: now, out: &out)
        case "updating":
            subscription.postponedUntil = now + config.requestTimeoutSeconds
        case "destroyed":
            roomDestroyed()
        case "event":
            if let code = data["error_code"].flatMap(lenientInt) {
                events.append(.warning(code: code, reason: data["error"]?.string ?? "videoroom error"))
            }
        case "slow_link":
            break
        case let other:
            ignore("subscriber event \(other.map { "\"\($0)\"" } ?? "without videoroom")")
        }
    }

    mutating func applyStreams(_ data: JSONValue) {
        guard let list = data["streams"]?.array else { return }
        subscription.streams = list.compactMap(JanusSubscribedStream.init(json:))
    }

    /// A JSEP from Janus on the subscription: an offer goes to the owner.
    mutating func offerReceived(_ jsep: (type: String, sdp: String)?) {
        guard let jsep else { return }
        guard jsep.type == "offer" else { return ignore("subscription jsep of type \(jsep.type)") }
        subscription.offerOutstanding = true
        subscription.postponedUntil = nil
        events.append(.offer(sdp: jsep.sdp, streams: subscription.streams))
    }

    /// Gives up the subscription handle and attaches a new one (after a hangup): the next offer is
    /// for a new PeerConnection.
    mutating func resetSubscription(now: Double, out: inout [JanusRequest]) {
        if let old = subscriberHandle {
            retiredHandles.insert(old)
            pending = pending.filter { $0.value.handle != old }
            out += send(issue(.detach, handle: old, kind: .detach, now: now))
        }
        subscriberHandle = nil
        subscription = Subscription()
        out += send(attachRequest(.subscriber, now: now))
    }
}
