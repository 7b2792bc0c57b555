/// Everything time-driven: paced checks (RFC 8445 §6.1.4), retransmissions, nomination (§8.1.1),
/// consent freshness (RFC 7675), timeouts, and the connection state.
extension ICEAgent {
    /// Sends what is due at `nowMicros`: retransmissions, the STUN-server request, TURN requests
    /// (allocation, refreshes, permissions, channels), at most one paced check (triggered ones
    /// first), a consent check; and applies timeouts. After ``close()`` only the release of the
    /// TURN allocation goes on.
    public func poll(nowMicros: Int64) -> [ICETransmit] {
        advance(nowMicros)
        var out = sendDueTransactions()
        guard !closed else { return out }
        maintainTURN()
        out += sendDueTransactions()
        nominateIfDue()
        if let check = sendPacedCheck() { out.append(check) }
        if let consent = sendConsentCheckIfDue() { out.append(consent) }
        updateState()
        return out
    }

    /// (Re)transmits the transactions that are due, oldest first, and gives up those that are done.
    func sendDueTransactions() -> [ICETransmit] {
        var out: [ICETransmit] = []
        let due = transactions.filter { $0.value.dueMicros <= self.nowMicros }
            .sorted { a, b in
                a.value.dueMicros != b.value.dueMicros ? a.value.dueMicros < b.value.dueMicros : a.key.lexicographicallyPrecedes(b.key)
            }
        for (id, _) in due {
            guard var transaction = transactions[id], let step = transaction.step(nowMicros: self.nowMicros) else { continue }
            switch step {
            case .send(let datagram):
                transactions[id] = transaction
                if transaction.transmissions > 1 {
                    stats.retransmissions += 1
                } else if case .turn = transaction.purpose {
                    stats.turnRequestsSent += 1
                }
                out.append(transmit(datagram, path: transaction.path))
            case .timeout:
                transactions[id] = nil
                timedOut(transaction)
            }
        }
        return out
    }

    /// When ``poll(nowMicros:)`` should next be called; at or before now means now. Nil when
    /// nothing is scheduled (until something is received or signalled).
    public var nextDeadlineMicros: Int64? {
        var deadline = transactions.values.map(\.dueMicros).min()
        guard !closed else { return deadline }
        func consider(_ time: Int64?) {
            if let time { deadline = min(deadline ?? time, time) }
        }
        consider(turnDueMicros)
        guard !failed else { return deadline }
        if canCheck, checklist.peekNext(ordinary: !concluded) != nil { consider(max(nextCheckMicros, nowMicros)) }
        consider(nominationDueMicros)
        if let selection {
            consider(selection.nextConsentMicros)
            let disconnect = selection.lastConsentMicros + options.disconnectedTimeoutMicros
            if disconnect > nowMicros { consider(disconnect) }
            consider(selection.lastConsentMicros + options.consentTimeoutMicros)
        } else if let start = checkingStartedMicros {
            consider(start + options.checkingTimeoutMicros)
        }
        return deadline
    }

    var canCheck: Bool { !failed && !closed && remoteCredentials != nil }

    // MARK: Checks

    /// The next check if the pacer allows one (§6.1.4.2).
    func sendPacedCheck() -> ICETransmit? {
        guard canCheck, nowMicros >= nextCheckMicros, let remoteCredentials,
              let check = checklist.takeNext(ordinary: !concluded),
              let index = checklist.index(of: check.path) else { return nil }
        let pair = checklist[index]
        let id = newTransactionID()
        let key = Array(remoteCredentials.pwd.utf8)
        let request = STUNMessage.bindingRequest(
            transactionID: id, username: "\(remoteCredentials.ufrag):\(localCredentials.ufrag)",
            priority: ICECandidate.priority(type: .peerReflexive, localPreference: pair.local.localPreference),
            controlling: role == .controlling, tieBreaker: tieBreaker, useCandidate: check.useCandidate)
        var transaction = ICETransaction(
            purpose: .check(path: check.path, useCandidate: check.useCandidate, role: role),
            datagram: request.serialized(integrityKey: key), path: check.path, responseKey: key,
            nowMicros: nowMicros, rto: options.checkRTOMicros, maxRTO: options.checkMaxRTOMicros,
            maxTransmissions: options.checkMaxTransmissions)
        guard case .send(let datagram) = transaction.step(nowMicros: nowMicros) else { return nil }
        transactions[id] = transaction
        if !pair.isValid { checklist[index].state = .inProgress }
        stats.checksSent += 1
        nextCheckMicros = nowMicros + options.pacingMicros
        if checkingStartedMicros == nil { checkingStartedMicros = nowMicros }
        return transmit(datagram, path: check.path)
    }

    /// A transaction got no response in time.
    func timedOut(_ transaction: ICETransaction) {
        switch transaction.purpose {
        case .check(let path, let useCandidate, _):
            if transaction.cancelled {
                if useCandidate && nominating == path { nominating = nil }
            } else {
                checkFailed(path, nomination: useCandidate)
            }
        case .consent:
            break   // consent runs on its own clock
        case .gather:
            if !gatherPending { completeGathering() }
        case .turn(let request, _):
            turnTimedOut(request)
        }
    }

    // MARK: Nomination (controlling agent, regular nomination)

    /// When to nominate the best valid pair: now when no better pair is still pending, else once
    /// ``ICEAgentOptions/nominationDelayMicros`` has passed since the first pair succeeded.
    var nominationDueMicros: Int64? {
        guard role == .controlling, canCheck, !concluded, nominating == nil,
              let best = checklist.bestValid, let firstValidMicros else { return nil }
        let bestPriority = checklist[best].priority
        let betterPending = checklist.pairs.contains { $0.isPending && $0.priority > bestPriority }
        return betterPending ? firstValidMicros + options.nominationDelayMicros : nowMicros
    }

    /// Sends USE-CANDIDATE on the best valid pair, as the next triggered check.
    func nominateIfDue() {
        guard let due = nominationDueMicros, nowMicros >= due, let best = checklist.bestValid else { return }
        let path = checklist[best].path
        nominating = path
        checklist.trigger(.init(path: path, useCandidate: true), first: true)
    }

    // MARK: Consent freshness (RFC 7675)

    /// A Binding request on the selected pair every ~5 s (no retransmissions: the next one is a new
    /// transaction), with the credentials the pair was selected under.
    func sendConsentCheckIfDue() -> ICETransmit? {
        guard !failed, var selection, nowMicros >= selection.nextConsentMicros else { return nil }
        let id = newTransactionID()
        let key = Array(selection.remoteCredentials.pwd.utf8)
        let request = STUNMessage.bindingRequest(
            transactionID: id, username: "\(selection.remoteCredentials.ufrag):\(selection.localCredentials.ufrag)",
            priority: ICECandidate.priority(type: .peerReflexive, localPreference: selection.local.localPreference),
            controlling: role == .controlling, tieBreaker: tieBreaker)
        let datagram = request.serialized(integrityKey: key)
        let interval = consentInterval()
        var transaction = ICETransaction(purpose: .consent(path: selection.path), datagram: datagram,
                                         path: selection.path, responseKey: key, nowMicros: nowMicros,
                                         rto: interval, maxRTO: interval, maxTransmissions: 1)
        _ = transaction.step(nowMicros: nowMicros)   // this first transmission is the only one
        transactions[id] = transaction
        selection.nextConsentMicros = nowMicros + interval
        self.selection = selection
        stats.consentChecksSent += 1
        return transmit(datagram, path: selection.path)
    }

    // MARK: State

    /// Applies the consent and checking timeouts and derives the connection state.
    func updateState() {
        guard !closed else {
            setState(.closed)
            return
        }
        if !failed { applyTimeouts() }
        let target: ICEConnectionState
        if failed {
            target = .failed
        } else if let selection {
            if nowMicros - selection.lastConsentMicros >= options.disconnectedTimeoutMicros {
                target = .disconnected
            } else if isComplete {
                if state != .completed { setState(.connected) }   // always reported before completed
                target = .completed
            } else {
                target = .connected
            }
        } else {
            target = checkingStartedMicros == nil ? .new : .checking
        }
        setState(target)
    }

    func applyTimeouts() {
        if let selection {
            guard nowMicros - selection.lastConsentMicros >= options.consentTimeoutMicros else { return }
            // Consent lost. During an ICE restart the new generation carries on checking.
            self.selection = nil
            if selection.generation == generation { fail() }
        } else if let start = checkingStartedMicros, nowMicros - start >= options.checkingTimeoutMicros {
            fail()
        } else if remoteEndOfCandidatesReceived, canCheck, !checklist.pairs.isEmpty,
                  checklist.pairs.allSatisfy({ $0.state == .failed }), checklist.peekNext(ordinary: false) == nil {
            fail()
        }
    }

    func fail() {
        failed = true
        selection = nil
        nominating = nil
        transactions = transactions.filter {
            switch $0.value.purpose {
            case .gather, .turn: true
            case .check, .consent: false
            }
        }
    }

    /// Selected, the peer has no more candidates and nothing is left to check.
    var isComplete: Bool {
        concluded && remoteEndOfCandidatesReceived && nominating == nil
            && !checklist.pairs.contains(where: \.isPending) && checklist.peekNext(ordinary: false) == nil
    }

    func setState(_ newState: ICEConnectionState) {
        guard newState != state else { return }
        state = newState
        emit(.stateChanged(newState))
    }
}
