extension JanusRoomFollower {
    /// When ``poll(now:)`` has work next (a keepalive, a request time-out); nil: nothing scheduled.
    public var nextDeadline: Double? {
        guard isConnected else { return nil }
        var deadline = pending.values.map(\.deadline).min()
        if let postponed = subscription.postponedUntil { deadline = min(deadline ?? postponed, postponed) }
        if sessionID != nil, phase == .settingUp || phase == .following {
            let keepalive = lastSessionSend + config.keepaliveSeconds
            deadline = min(deadline ?? keepalive, keepalive)
        }
        return deadline
    }

    /// The transport is believed up (not between ``transportLost(now:)`` and a successful claim).
    var isConnected: Bool {
        phase == .settingUp || phase == .following || phase == .claiming || phase == .stopping
    }

    /// Runs what is due: keepalives and request time-outs.
    public mutating func poll(now: Double) -> [JanusRequest] {
        guard isConnected else { return [] }
        var out: [JanusRequest] = []
        for (transaction, request) in pending.sorted(by: { $0.value.deadline < $1.value.deadline })
        where request.deadline <= now && pending[transaction] != nil {
            pending[transaction] = nil
            timedOut(request, now: now, out: &out)
        }
        if let postponed = subscription.postponedUntil, postponed <= now {
            subscription.postponedUntil = nil
            events.append(.warning(code: 0, reason: "the postponed subscription update brought no offer"))
            reconcile(now: now, out: &out)
        }
        if sessionID != nil, phase == .settingUp || phase == .following,
           now >= lastSessionSend + config.keepaliveSeconds {
            out.append(issue(.keepalive, kind: .keepalive, now: now))
        }
        return out
    }

    /// A request Janus did not answer in time.
    mutating func timedOut(_ request: Pending, now: Double, out: inout [JanusRequest]) {
        let reason = "Janus did not answer \(request.kind.name) within \(config.requestTimeoutSeconds) s"
        switch request.kind {
        case .create, .attach, .joinWatcher:
            if phase == .settingUp { fail(code: 0, reason: reason) } else { transportProblem = reason }
        case .keepalive, .claim:
            transportProblem = reason
        case .joinSubscriber, .subscribe, .unsubscribe:
            subscription.requestTransaction = nil
            events.append(.warning(code: 0, reason: reason))
            reconcile(now: now, out: &out)
        case .start:
            subscription.startTransaction = nil
            reconcile(now: now, out: &out)
        case .destroy:
            if phase == .stopping { phase = .ended }
        case .listParticipants, .trickle, .leave, .detach:
            break
        }
    }

    /// The transport dropped. Outstanding requests are forgotten; the follower waits for
    /// ``transportRestored(now:)`` (or ends when it was stopping).
    public mutating func transportLost(now: Double) {
        transportProblem = nil
        switch phase {
        case .settingUp, .following, .claiming:
            if phase != .claiming { phaseBeforeLoss = phase }
            phase = .disconnected
            pending = [:]
            // Whatever was under way on the subscription may be lost with its answer.
            subscription.requestTransaction = nil
            subscription.startTransaction = nil
            subscription.postponedUntil = nil
        case .stopping:
            phase = .ended
            pending = [:]
        case .idle, .disconnected, .ended:
            break
        }
    }

    /// A new transport is up: `claim` the session (Janus ≥ 1.0), or start over when there is none
    /// to claim (the drop came during set-up).
    public mutating func transportRestored(now: Double) -> [JanusRequest] {
        guard phase == .disconnected else { return [] }
        guard sessionID != nil, phaseBeforeLoss == .following else {
            var out: [JanusRequest] = []
            startOver(now: now, out: &out)
            return out
        }
        phase = .claiming
        return [issue(.claim, kind: .claim, now: now)]
    }

    /// The claim worked: send what was held, re-read the publishers, resume.
    mutating func claimSucceeded(now: Double, out: inout [JanusRequest]) {
        phase = .following
        lastSessionSend = now
        for request in held {
            pending[request.transaction]?.deadline = now + config.requestTimeoutSeconds
            out.append(request)
        }
        held = []
        if let watcher = watcherHandle {
            out.append(message(["request": .string("listparticipants"), "room": config.room.json], handle: watcher,
                               kind: .listParticipants, now: now))
        }
        reconcile(now: now, out: &out)
    }

    /// The session is gone (claim refused, timeout, 458): a new session, handles and join. The owner
    /// hears `.sessionReset` when it had already joined.
    mutating func startOver(now: Double, out: inout [JanusRequest]) {
        if let session = sessionID { retiredSessions.insert(session) }
        sessionID = nil
        watcherHandle = nil
        subscriberHandle = nil
        participantID = nil
        privateID = nil
        watcherJoined = false
        subscription = Subscription()
        pending = [:]
        held = []
        phase = .settingUp
        if everJoined { events.append(.sessionReset) }
        out.append(issue(.create, kind: .create, now: now))
    }

    /// Leaves the room and tears the session down: `leave` on the watcher, `detach` of both handles,
    /// `destroy`. The follower is ``Phase/ended`` once Janus answers the destroy, the transport
    /// drops, or the request times out.
    public mutating func stop(now: Double) -> [JanusRequest] {
        guard isConnected || phase == .ended, sessionID != nil else {
            phase = .ended
            pending = [:]
            return []
        }
        pending = [:]
        phase = .stopping
        var out: [JanusRequest] = []
        if let watcher = watcherHandle {
            if watcherJoined { out.append(message(["request": .string("leave")], handle: watcher, kind: .leave, now: now)) }
        }
        if let subscriber = subscriberHandle { out.append(issue(.detach, handle: subscriber, kind: .detach, now: now)) }
        if let watcher = watcherHandle { out.append(issue(.detach, handle: watcher, kind: .detach, now: now)) }
        out.append(issue(.destroy, kind: .destroy, now: now))
        return out
    }

    /// Stopped, or ended by the room or an error.
    public var isEnded: Bool { phase == .ended }
}
