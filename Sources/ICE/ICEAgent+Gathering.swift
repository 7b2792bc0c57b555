/// Local candidates: host addresses from the driver, a server-reflexive one from a Binding
/// request to the STUN server (RFC 8445 §5.1.1), and a relayed one (see ICEAgent+TURN.swift).
extension ICEAgent {
    /// The STUN-server Binding request: RFC 8489 §6.2.1 retransmissions (RTO 500 ms, doubling, at
    /// most 7), but given up after 10 s in all.
    static let gatherRTOMicros: Int64 = 500_000
    static let gatherMaxTransmissions = 7
    static let gatherTimeoutMicros: Int64 = 10_000_000

    /// Adds a host candidate at an address of the driver's socket (its priority ranks it after the
    /// ones added before), emits ``ICEEvent/localCandidate(_:)`` and pairs it. Nil for a duplicate,
    /// a non-IP address, or after ``close()``.
    @discardableResult
    public func addLocalHostCandidate(_ address: STUNAddress) -> ICECandidate? {
        guard !closed, let address = ICECandidate.canonical(address),
              !localCandidates.contains(where: { $0.address == address }) else { return nil }
        let hosts = localCandidates.filter { $0.type == .host }.count
        let candidate = ICECandidate(foundation: ICECandidate.foundation(type: .host, baseIP: address.ip),
                                     priority: ICECandidate.priority(type: .host, localPreference: UInt32(max(0, 65535 - hosts))),
                                     address: address, type: .host)
        localCandidates.append(candidate)
        emit(.localCandidate(candidate))
        // Unchecked pairs of its family move to it when it ranks higher.
        for index in checklist.pairs.indices {
            var pair = checklist[index]
            guard pair.local.type != .relayed, pair.remote.isIPv6 == candidate.isIPv6, pair.state == .frozen || pair.state == .waiting,
                  pair.local.priority < candidate.priority else { continue }
            pair.local = candidate
            pair.updatePriority(role: role)
            checklist[index] = pair
        }
        if !concluded {
            for remote in remoteCandidates where remote.isIPv6 == candidate.isIPv6 { pairIndex(for: remote, relayed: false) }
        }
        return candidate
    }

    /// Starts gathering the server-reflexive candidate from ``ICEAgentOptions/stunServer`` (the
    /// request goes out from the next ``poll(nowMicros:)``); gathering completes when it is
    /// answered or given up. Without a STUN server (or a host candidate of its family) gathering
    /// completes now.
    public func gatherServerReflexive(nowMicros: Int64) {
        advance(nowMicros)
        guard !closed, !gatheringComplete, !gatherPending else { return }
        guard let server = options.stunServer.flatMap(ICECandidate.canonical),
              let base = bestLocal(ipv6: server.ip.contains(":")) else {
            finishGathering()
            return
        }
        let id = newTransactionID()
        let request = STUNMessage(messageClass: .request, transactionID: id)
        transactions[id] = ICETransaction(purpose: .gather(base: base), datagram: request.serialized(),
                                          path: ICEPath(remote: server, relayed: false),
                                          responseKey: nil, nowMicros: self.nowMicros, rto: Self.gatherRTOMicros,
                                          maxRTO: Self.gatherTimeoutMicros, maxTransmissions: Self.gatherMaxTransmissions,
                                          giveUpAfter: Self.gatherTimeoutMicros)
    }

    /// No more local candidates will be added: emits ``ICEEvent/gatheringComplete`` (once a
    /// server-reflexive request or a TURN allocation in flight is done).
    public func finishGathering() {
        if !gatherPending { completeGathering() }
    }

    var gatherPending: Bool {
        turn?.phase == .wanted || turn?.phase == .allocating
            || transactions.values.contains { if case .gather = $0.purpose { true } else { false } }
    }

    /// The STUN server answered (the transaction is already removed).
    func gatherAnswered(_ response: STUNMessage, base: ICECandidate, server: STUNAddress) {
        if response.messageClass == .successResponse,
           let mapped = (response.xorMappedAddress ?? Self.mappedAddress(response)).flatMap(ICECandidate.canonical),
           !localCandidates.contains(where: { $0.address == mapped }) {
            let candidate = ICECandidate(
                foundation: ICECandidate.foundation(type: .serverReflexive, baseIP: base.address.ip, server: server.ip),
                priority: ICECandidate.priority(type: .serverReflexive, localPreference: base.localPreference),
                address: mapped, type: .serverReflexive, related: base.address)
            localCandidates.append(candidate)
            emit(.localCandidate(candidate))
        }
        if !gatherPending { completeGathering() }
    }

    func completeGathering() {
        guard !gatheringComplete else { return }
        gatheringComplete = true
        emit(.gatheringComplete)
    }

    /// MAPPED-ADDRESS, which old (RFC 3489) servers send instead of XOR-MAPPED-ADDRESS.
    static func mappedAddress(_ message: STUNMessage) -> STUNAddress? {
        for case .mappedAddress(let address) in message.attributes { return address }
        return nil
    }
}
