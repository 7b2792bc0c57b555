import JSONText

extension JanusRoomFollower {
    /// Routes one decoded message.
    mutating func handle(_ message: JanusMessage, now: Double, out: inout [JanusRequest]) {
        if phase == .idle || (phase == .ended && pending.isEmpty) {
            ignore("\(message.kind) while \(phase == .idle ? "not started" : "ended")")
            return
        }
        let isOurTransaction = message.transaction.map { pending[$0] != nil } ?? false
        if let session = message.sessionID, retiredSessions.contains(session), !isOurTransaction {
            ignore("\(message.kind) for abandoned session \(session)")
            return
        }
        if let session = message.sessionID, let ours = sessionID, session != ours, !isOurTransaction {
            ignore("\(message.kind) for session \(session), ours is \(ours)")
            return
        }
        switch message.kind {
        case "success", "error", "ack":
            handleResponse(message, now: now, out: &out)
        case "event":
            handleEvent(message, now: now, out: &out)
        case "webrtcup", "media", "slowlink", "hangup", "trickle", "detached":
            handleHandleNotice(message, now: now, out: &out)
        case "timeout":
            guard message.sessionID == sessionID, sessionID != nil else { return ignore("timeout for another session") }
            startOver(now: now, out: &out)
        case "keepalive":
            break // an HTTP long poll that ended without events
        default:
            ignore("unknown message kind \"\(message.kind)\"")
        }
    }

    /// `success`, `error` and `ack`: answers to our transactions.
    mutating func handleResponse(_ message: JanusMessage, now: Double, out: inout [JanusRequest]) {
        guard let transaction = message.transaction else {
            if let error = message.error {
                return ignore("error \(error.code) without a transaction: \(error.reason)")
            }
            return ignore("\(message.kind) without a transaction")
        }
        guard let request = pending[transaction] else {
            // The plugin's event often beats the core's ack: an ack for a finished request is normal.
            if message.kind == "ack" { return }
            return ignore("\(message.kind) for unknown transaction \(transaction)")
        }
        if message.kind == "ack" {
            if !request.kind.awaitsEvent { pending[transaction] = nil }
            return
        }
        pending[transaction] = nil
        if message.kind == "error" {
            let error = message.error ?? (0, "unknown error")
            return coreError(request, code: error.code, reason: error.reason, now: now, out: &out)
        }
        if let data = message.pluginData {
            // A synchronous plugin answer, or an asynchronous request the plugin refused at once.
            return pluginAnswer(request.kind, data: data, jsep: message.jsep, now: now, out: &out)
        }
        switch request.kind {
        case .create:
            guard let id = message.dataID else { return fail(code: 0, reason: "Janus answered create without a session id") }
            sessionID = id
            lastSessionSend = now
            out += [attachRequest(.watcher, now: now), attachRequest(.subscriber, now: now)]
        case .attach(let role):
            guard let id = message.dataID else { return fail(code: 0, reason: "Janus answered attach without a handle id") }
            attached(role, handle: id, now: now, out: &out)
        case .claim:
            claimSucceeded(now: now, out: &out)
        case .destroy:
            if phase == .stopping { phase = .ended }
        default:
            break
        }
    }

    /// A core `error` answering one of our requests.
    mutating func coreError(_ request: Pending, code: Int, reason: String, now: Double, out: inout [JanusRequest]) {
        switch request.kind {
        case .create, .attach, .joinWatcher:
            if phase == .settingUp || phase == .following { fail(code: code, reason: "\(request.kind.name): \(reason)") }
        case .claim:
            startOver(now: now, out: &out)
        case .destroy:
            if phase == .stopping { phase = .ended }
        case .detach, .leave, .trickle:
            break
        default:
            if code == JanusErrorCode.noSuchSession, phase == .following {
                startOver(now: now, out: &out)
            } else if code == JanusErrorCode.noSuchHandle, phase == .following {
                if request.handle == watcherHandle {
                    startOver(now: now, out: &out)
                } else if request.handle == subscriberHandle {
                    events.append(.hangup(reason: "subscriber handle gone: \(reason)"))
                    resetSubscription(now: now, out: &out)
                }
            } else {
                events.append(.warning(code: code, reason: "\(request.kind.name): \(reason)"))
                if case .start = request.kind { subscription.startTransaction = nil }
                if subscriptionKindFeeds(request.kind) != nil { subscriptionFailed(request.kind, now: now, out: &out) }
            }
        }
    }

    /// An `event` from the plugin: the answer to one of our requests, or news on a handle.
    mutating func handleEvent(_ message: JanusMessage, now: Double, out: inout [JanusRequest]) {
        guard let data = message.pluginData else { return ignore("event without plugindata.data") }
        if let transaction = message.transaction, let request = pending[transaction] {
            pending[transaction] = nil
            return pluginAnswer(request.kind, data: data, jsep: message.jsep, now: now, out: &out)
        }
        guard let sender = message.sender else { return ignore("event without a sender") }
        if sender == watcherHandle {
            roomEvent(data, now: now, out: &out)
        } else if sender == subscriberHandle {
            subscriberEvent(data, jsep: message.jsep, now: now, out: &out)
        } else if !retiredHandles.contains(sender) {
            ignore("event from unknown handle \(sender)")
        }
    }

    /// The plugin's answer to one of our `message` requests.
    mutating func pluginAnswer(_ kind: PendingKind, data: JSONValue, jsep: (type: String, sdp: String)?,
                               now: Double, out: inout [JanusRequest]) {
        let errorCode = data["error_code"].flatMap(lenientInt)
        let errorText = data["error"]?.string ?? "videoroom error"
        switch kind {
        case .joinWatcher:
            if let errorCode { return fail(code: errorCode, reason: errorText) }
            guard data["videoroom"]?.string == "joined" else {
                return ignore("answer to join is \(data["videoroom"]?.string ?? "not a videoroom event")")
            }
            watcherJoinedRoom(data, now: now, out: &out)
        case .joinSubscriber, .subscribe, .unsubscribe:
            subscriptionAnswer(kind, data: data, jsep: jsep, errorCode: errorCode, errorText: errorText,
                               now: now, out: &out)
        case .start:
            subscription.startTransaction = nil
            if let errorCode { events.append(.warning(code: errorCode, reason: "start: \(errorText)")) }
            reconcile(now: now, out: &out)
        case .listParticipants:
            if errorCode == nil { participantsListed(data, now: now, out: &out) }
        default:
            break
        }
    }

    /// `webrtcup`, `media`, `slowlink`, `hangup`, `trickle`, `detached`: about one handle.
    mutating func handleHandleNotice(_ message: JanusMessage, now: Double, out: inout [JanusRequest]) {
        guard let sender = message.sender else { return ignore("\(message.kind) without a sender") }
        if sender == watcherHandle, message.kind == "detached", phase == .following {
            return startOver(now: now, out: &out)
        }
        guard sender == subscriberHandle else {
            if !retiredHandles.contains(sender) && sender != watcherHandle {
                ignore("\(message.kind) from unknown handle \(sender)")
            }
            return
        }
        let raw = message.raw
        switch message.kind {
        case "webrtcup":
            events.append(.webrtcUp)
        case "media":
            events.append(.media(mid: raw["mid"].flatMap(lenientString), type: raw["type"]?.string ?? "unknown",
                                 receiving: raw["receiving"]?.bool ?? false))
        case "slowlink":
            events.append(.slowLink(mid: raw["mid"].flatMap(lenientString), uplink: raw["uplink"]?.bool ?? false,
                                    lost: raw["lost"].flatMap(lenientInt) ?? 0))
        case "trickle":
            remoteTrickle(raw["candidate"])
        case "hangup":
            events.append(.hangup(reason: raw["reason"]?.string ?? "hangup"))
            if phase == .following { resetSubscription(now: now, out: &out) }
        default: // detached
            if phase == .following {
                events.append(.hangup(reason: "subscriber handle detached"))
                resetSubscription(now: now, out: &out)
            }
        }
    }

    /// A candidate Janus trickled (or its end).
    mutating func remoteTrickle(_ candidate: JSONValue?) {
        guard let candidate, case .object = candidate else { return ignore("trickle without a candidate object") }
        if candidate["completed"]?.bool == true {
            events.append(.endOfCandidates)
        } else if let line = candidate["candidate"]?.string {
            events.append(.remoteCandidate(mid: candidate["sdpMid"].flatMap(lenientString),
                                           sdpMLineIndex: candidate["sdpMLineIndex"].flatMap(lenientInt),
                                           candidate: line))
        } else {
            ignore("trickle candidate without a candidate line")
        }
    }
}

/// Janus core error codes the follower reacts to.
public enum JanusErrorCode {
    /// 458: the session does not exist (any more).
    public static let noSuchSession = 458
    /// 459: the handle does not exist (any more).
    public static let noSuchHandle = 459
    /// 403: a wrong or missing `apisecret` / token.
    public static let unauthorized = 403
    /// Videoroom 426: no such room.
    public static let noSuchRoom = 426
    /// Videoroom 433: unauthorized (wrong pin, or a token the room does not allow).
    public static let roomUnauthorized = 433
    /// Videoroom 428: no such feed.
    public static let noSuchFeed = 428
    /// Videoroom 429: a mandatory element is missing (e.g. the pin of a pin room).
    public static let missingElement = 429
}
