/// Received datagrams: application data, Binding requests (RFC 8445 §7.3) and responses (§7.2.5).
extension ICEAgent {
    /// Handles one datagram that arrived on the driver's socket from `from` (canonical IP text, as
    /// ``STUNAddress`` formats it; IPv4 dotted, not IPv4-mapped IPv6). Non-STUN datagrams are application data when `from` has sent us
    /// an authenticated check or response, dropped otherwise. Checks (and any nomination) this
    /// causes go out from the next ``poll(nowMicros:)``: re-read ``nextDeadlineMicros``.
    ///
    /// From the TURN server: responses to our TURN requests, and Data indications and ChannelData
    /// (RFC 7983: first byte 64...79), which are unwrapped and handled as if they came from the
    /// peer through the relayed candidate (application data is returned with the peer's address).
    public func receive(_ datagram: [UInt8], from: STUNAddress, nowMicros: Int64) -> ICEReceiveResult {
        advance(nowMicros)
        if let turn, from == turn.server, turn.phase != .idle, let result = receiveFromTURNServer(datagram) {
            updateState()
            return result
        }
        guard !closed else { return .dropped(reason: "the ICE agent is closed") }
        return receive(datagram, path: ICEPath(remote: from, relayed: false))
    }

    /// A datagram from `path.remote`, straight or unwrapped from the relay.
    func receive(_ datagram: [UInt8], path: ICEPath) -> ICEReceiveResult {
        let from = path.remote
        guard STUNMessage.isSTUN(datagram) else {
            if authenticatedRemotes.contains(path) { return .applicationData(datagram, from: from) }
            stats.applicationDataDropped += 1
            return .dropped(reason: "application data from \(path), which has not authenticated itself")
        }
        let message: STUNMessage
        do {
            message = try STUNMessage(parsing: datagram)
        } catch {
            stats.malformed += 1
            return .dropped(reason: error.description)
        }
        guard message.method == STUNMessage.bindingMethod else {
            stats.malformed += 1
            return .dropped(reason: "STUN method 0x\(String(message.method, radix: 16)) is not Binding")
        }
        let result: ICEReceiveResult
        switch message.messageClass {
        case .request: result = handleRequest(message, datagram, path: path)
        case .indication: result = .handled([])   // a keepalive
        case .successResponse, .errorResponse: result = handleResponse(message, datagram, path: path)
        }
        updateState()
        return result
    }

    // MARK: Requests

    /// RFC 8445 §7.3.1: authenticate (USERNAME "ourUfrag:theirs", our password), resolve a role
    /// conflict, learn a peer-reflexive candidate, answer, trigger a check, note USE-CANDIDATE.
    func handleRequest(_ request: STUNMessage, _ bytes: [UInt8], path: ICEPath) -> ICEReceiveResult {
        let from = path.remote
        guard STUNMessage.verifyFingerprint(bytes) else {
            stats.integrityFailures += 1
            return .dropped(reason: "Binding request without a valid FINGERPRINT")
        }
        func answer(_ message: STUNMessage, key: [UInt8]? = nil) -> ICEReceiveResult {
            .handled([transmit(message.serialized(integrityKey: key), path: path)])
        }
        let hasIntegrity = request.attributes.contains { if case .messageIntegrity = $0 { true } else { false } }
        guard let username = request.username, hasIntegrity else {
            stats.badRequests += 1
            return answer(STUNMessage.bindingError(for: request, code: 400, reason: "Bad Request"))
        }
        let ufrag = username.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
        // Until a pair of this generation is selected, checks with the previous credentials are
        // still answered (consent on the old pair after an ICE restart).
        let accepted = [localCredentials] + (selection.map { [$0.localCredentials] } ?? [])
        guard let credentials = accepted.first(where: { $0.ufrag == ufrag }),
              STUNMessage.verifyIntegrity(bytes, key: Array(credentials.pwd.utf8)) else {
            stats.integrityFailures += 1
            return answer(STUNMessage.bindingError(for: request, code: 401, reason: "Unauthorized"))
        }
        let key = Array(credentials.pwd.utf8)
        guard let priority = request.priority else {
            stats.badRequests += 1
            return answer(STUNMessage.bindingError(for: request, code: 400, reason: "Bad Request"), key: key)
        }
        stats.checksReceived += 1
        authenticatedRemotes.insert(path)
        let success = answer(STUNMessage.bindingSuccess(for: request, mapped: from), key: key)
        guard credentials == localCredentials, !failed else { return success }
        guard resolveRoleConflict(request) else {
            return answer(STUNMessage.bindingError(for: request, code: 487, reason: "Role Conflict"), key: key)
        }
        if let index = learnRemote(path, priority: priority) {
            triggerCheck(index, nominated: request.useCandidate)
        }
        return success
    }

    /// RFC 8445 §7.3.1.1. False: answer 487, we keep our role.
    func resolveRoleConflict(_ request: STUNMessage) -> Bool {
        if role == .controlling, let theirs = request.iceControlling {
            stats.roleConflicts += 1
            guard tieBreaker < theirs else { return false }
            switchRole(to: .controlled)
        } else if role == .controlled, let theirs = request.iceControlled {
            stats.roleConflicts += 1
            guard tieBreaker >= theirs else { return false }
            switchRole(to: .controlling)
        }
        return true
    }

    /// The pair of `path`, learning its address as a peer-reflexive candidate (§7.3.1.3) with the
    /// request's PRIORITY when no remote candidate has that address.
    func learnRemote(_ path: ICEPath, priority: UInt32) -> Int? {
        let from = path.remote
        if let index = checklist.index(of: path) { return index }
        if let known = remoteCandidates.first(where: { $0.address == from }) { return pairIndex(for: known, relayed: path.relayed) }
        guard ICECandidate.canonical(from) != nil else { return nil }
        let candidate = ICECandidate(
            foundation: ICECandidate.foundation(type: .peerReflexive, baseIP: from.ip, server: String(from.port)),
            priority: priority, address: from, type: .peerReflexive)
        remoteCandidates.append(candidate)
        stats.peerReflexiveLearned += 1
        return pairIndex(for: candidate, relayed: path.relayed)
    }

    /// §7.3.1.4: queue a triggered check on the pair unless it is valid already (an in-progress
    /// check is cancelled and replaced); a USE-CANDIDATE check nominates it (controlled agent)
    /// now if it is valid, else when our check succeeds.
    func triggerCheck(_ index: Int, nominated: Bool) {
        var pair = checklist[index]
        if !pair.isValid {
            if pair.state == .inProgress { cancelChecks(to: pair.path) }
            pair.state = .waiting
            checklist.trigger(.init(path: pair.path, useCandidate: false))
        }
        if nominated && role == .controlled { pair.nominateOnSuccess = true }
        checklist[index] = pair
        if pair.nominateOnSuccess && pair.isValid && role == .controlled { nominate(index) }
    }

    func cancelChecks(to path: ICEPath) {
        for (id, transaction) in transactions {
            if case .check(path, false, _) = transaction.purpose { transactions[id]?.cancel() }
        }
    }

    // MARK: Responses

    /// §7.2.5: match the transaction, check the source and MESSAGE-INTEGRITY (the remote
    /// password), then succeed the pair, switch role on 487, or fail the pair.
    func handleResponse(_ response: STUNMessage, _ bytes: [UInt8], path: ICEPath) -> ICEReceiveResult {
        let id = response.transactionID
        guard let transaction = transactions[id] else {
            stats.malformed += 1
            return .dropped(reason: "a STUN response to no request of ours")
        }
        let hasFingerprint = response.attributes.contains { if case .fingerprint = $0 { true } else { false } }
        guard !hasFingerprint || STUNMessage.verifyFingerprint(bytes) else {
            stats.integrityFailures += 1
            return .dropped(reason: "STUN response with a wrong FINGERPRINT")
        }
        guard path == transaction.path else {
            return .dropped(reason: "STUN response from \(path), but the request went to \(transaction.path)")
        }
        if case .gather(let base) = transaction.purpose {
            transactions[id] = nil
            gatherAnswered(response, base: base, server: transaction.path.remote)
            return .handled([])
        }
        if case .turn(let request, let attempt) = transaction.purpose {
            return turnAnswered(response, bytes, id: id, request: request, attempt: attempt, key: transaction.responseKey)
        }
        let hasIntegrity = response.attributes.contains { if case .messageIntegrity = $0 { true } else { false } }
        let code = response.messageClass == .errorResponse ? response.errorCode?.code ?? 0 : nil
        // Success and 487 must be authenticated; other errors (400, 401) may come without integrity.
        if hasIntegrity || code == nil || code == 487 {
            guard let key = transaction.responseKey, STUNMessage.verifyIntegrity(bytes, key: key) else {
                stats.integrityFailures += 1
                return .dropped(reason: "STUN response failing MESSAGE-INTEGRITY")
            }
        }
        transactions[id] = nil
        stats.responsesReceived += 1
        switch transaction.purpose {
        case .consent(let path):
            if code == nil {
                stats.consentResponses += 1
                authenticatedRemotes.insert(path)
                confirmConsent(path)
            }
        case .check(let path, let useCandidate, let sentRole):
            switch code {
            case nil:
                authenticatedRemotes.insert(path)
                checkSucceeded(path, useCandidate: useCandidate, sentRole: sentRole)
            case 487:
                roleConflictAnswered(path, sentRole: sentRole)
            default:
                checkFailed(path, nomination: useCandidate)
            }
        case .gather, .turn:
            break
        }
        return .handled([])
    }

    /// §7.2.5.3: the pair is valid; a nomination we sent, or one the peer sent, selects it.
    func checkSucceeded(_ path: ICEPath, useCandidate: Bool, sentRole: ICERole) {
        confirmConsent(path)
        guard let index = checklist.index(of: path) else { return }
        let wasValid = checklist[index].isValid
        checklist[index].state = .succeeded
        if firstValidMicros == nil { firstValidMicros = nowMicros }
        if !wasValid { checklist.unfreeze(foundation: checklist[index].foundation) }
        if role == .controlling ? (useCandidate && sentRole == .controlling) : checklist[index].nominateOnSuccess {
            nominate(index)
        }
    }

    /// §7.2.5.1: 487 to a check sent in our current role: switch, and check the pair again.
    func roleConflictAnswered(_ path: ICEPath, sentRole: ICERole) {
        stats.roleConflicts += 1
        if sentRole == role { switchRole(to: role == .controlling ? .controlled : .controlling) }
        if nominating == path { nominating = nil }
        guard let index = checklist.index(of: path) else { return }
        if !checklist[index].isValid { checklist[index].state = .waiting }
        checklist.trigger(.init(path: path, useCandidate: false))
    }

    /// A check got an error or no response: the pair fails (a valid pair only if it was our nomination).
    func checkFailed(_ path: ICEPath, nomination: Bool) {
        if nomination && nominating == path { nominating = nil }
        guard let index = checklist.index(of: path), nomination || !checklist[index].isValid else { return }
        checklist[index].state = .failed
        stats.pairsFailed += 1
    }

    /// A successful response on the selected pair renews consent (RFC 7675 §5.1).
    func confirmConsent(_ path: ICEPath) {
        if selection?.path == path { selection?.lastConsentMicros = nowMicros }
    }
}
