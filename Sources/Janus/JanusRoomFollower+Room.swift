import JSONText

extension JanusRoomFollower {
    /// A handle exists: the watcher joins; the subscriber waits for publishers.
    mutating func attached(_ role: Role, handle: UInt64, now: Double, out: inout [JanusRequest]) {
        switch role {
        case .watcher:
            watcherHandle = handle
            out.append(joinWatcherRequest(handle: handle, now: now))
        case .subscriber:
            subscriberHandle = handle
            reconcile(now: now, out: &out)
        }
    }

    /// `joined`: the watcher is in the room, with the current publishers.
    mutating func watcherJoinedRoom(_ data: JSONValue, now: Double, out: inout [JanusRequest]) {
        guard let idValue = data["id"], let id = JanusFeedID(json: idValue) else {
            return fail(code: 0, reason: "joined without a participant id")
        }
        participantID = id
        privateID = data["private_id"].flatMap(lenientID)
        watcherJoined = true
        everJoined = true
        phase = .following
        publishers = []
        _ = upsertPublishers(data["publishers"]?.array ?? [])
        events.append(.joined(room: config.room, participantID: id))
        announcedPublishers = nil
        announcePublishers()
        reconcile(now: now, out: &out)
    }

    /// News on the watcher handle: publishers coming and going, the room's end.
    mutating func roomEvent(_ data: JSONValue, now: Double, out: inout [JanusRequest]) {
        switch data["videoroom"]?.string {
        case "destroyed":
            roomDestroyed()
        case "event":
            if let code = data["error_code"].flatMap(lenientInt) {
                events.append(.warning(code: code, reason: data["error"]?.string ?? "videoroom error"))
                return
            }
            var changed = false
            if let list = data["publishers"]?.array { changed = upsertPublishers(list) || changed }
            if let feed = data["unpublished"] { changed = removePublisher(feed) || changed }
            if let feed = data["leaving"] {
                if feed.string == "ok" && data["reason"]?.string == "kicked" { return kickedOut() }
                changed = removePublisher(feed) || changed
            }
            if let feed = data["kicked"] {
                if let id = JanusFeedID(json: feed), id == participantID { return kickedOut() }
                changed = removePublisher(feed) || changed
            }
            if changed {
                announcePublishers()
                reconcile(now: now, out: &out)
            }
        case "talking", "stopped-talking", "joined", "participants":
            break
        case let other:
            ignore("watcher event \(other.map { "\"\($0)\"" } ?? "without videoroom")")
        }
    }

    /// Adds or replaces publishers from a `publishers` array; true when something changed.
    mutating func upsertPublishers(_ list: [JSONValue]) -> Bool {
        var changed = false
        for element in list {
            guard let publisher = JanusPublisher(json: element) else {
                ignore("publisher entry without a usable id")
                continue
            }
            if element["dummy"]?.bool == true || publisher.id == participantID { continue }
            if let index = publishers.firstIndex(where: { $0.id == publisher.id }) {
                if publishers[index] != publisher {
                    publishers[index] = publisher
                    changed = true
                }
            } else {
                publishers.append(publisher)
                changed = true
            }
        }
        return changed
    }

    /// Removes the publisher an `unpublished` / `leaving` / `kicked` names; true when it was known.
    mutating func removePublisher(_ value: JSONValue) -> Bool {
        guard let id = JanusFeedID(json: value) else {
            ignore("publisher removal with a \(value.kindName) id")
            return false
        }
        guard let index = publishers.firstIndex(where: { $0.id == id }) else { return false }
        publishers.remove(at: index)
        return true
    }

    /// After a claim: `listparticipants` tells who publishes now (without their streams).
    mutating func participantsListed(_ data: JSONValue, now: Double, out: inout [JanusRequest]) {
        guard let list = data["participants"]?.array else { return ignore("participants without a list") }
        var current: [JanusPublisher] = []
        for element in list where element["publisher"]?.bool == true {
            guard let idValue = element["id"], let id = JanusFeedID(json: idValue), id != participantID else { continue }
            if element["dummy"]?.bool == true { continue }
            var publisher = publishers.first(where: { $0.id == id }) ?? JanusPublisher(id: id)
            if let display = element["display"]?.string { publisher.display = display }
            current.append(publisher)
        }
        guard current != publishers else { return }
        publishers = current
        announcePublishers()
        reconcile(now: now, out: &out)
    }

    /// Tells the owner the publisher list when it differs from what it last heard.
    mutating func announcePublishers() {
        guard announcedPublishers != publishers else { return }
        announcedPublishers = publishers
        events.append(.publishers(publishers))
    }

    mutating func roomDestroyed() {
        guard !roomDestroyedAnnounced else { return }
        roomDestroyedAnnounced = true
        events.append(.roomDestroyed)
        phase = .ended
    }

    mutating func kickedOut() {
        events.append(.kicked)
        phase = .ended
    }
}
