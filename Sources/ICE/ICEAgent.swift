/// A full ICE agent (RFC 8445) with trickle (RFC 8838) and consent freshness (RFC 7675), sans-IO.
///
/// The driver owns one UDP socket per peer, shared by every local candidate, so a transmit only
/// names a destination. It feeds the agent what arrives (``receive(_:from:nowMicros:)``), sends
/// what ``poll(nowMicros:)`` and ``receive(_:from:nowMicros:)`` return, drains
/// ``takeEvents()``, and after every call re-reads ``nextDeadlineMicros`` to know when to poll
/// again. Times are a monotonic clock in microseconds; the agent reads no clock and owns no timer.
///
/// Not thread-safe: one driver (one actor or event loop) owns an agent.
///
/// With ``ICEAgentOptions/turnServer`` (and ``gatherRelayed()``) a TURN allocation (RFC 8656 over
/// UDP, long-term credentials) on the same socket gives a relayed candidate; pairs on it send
/// through the server (Send indications, ChannelData once a channel is bound), and what the server
/// relays comes back unwrapped from ``receive(_:from:nowMicros:)`` as if from the peer.
///
/// Not yet: local peer-reflexive candidates (a valid pair keeps the local host candidate),
/// components other than 1, TCP, TURN over TCP/TLS.
public final class ICEAgent {
    /// Our role; changes on a role conflict (RFC 8445 §7.3.1.1).
    public internal(set) var role: ICERole
    /// The tie-breaker sent in ICE-CONTROLLING / ICE-CONTROLLED.
    public let tieBreaker: UInt64
    public internal(set) var localCredentials: ICECredentials
    /// Nil until signalled; checks wait for them (RFC 8838 §7), inbound checks are answered meanwhile.
    public internal(set) var remoteCredentials: ICECredentials?
    /// Gathering, pacing and timeouts, as given at `init`.
    public let options: ICEAgentOptions
    /// Host candidates, then the server-reflexive and relayed ones as they are gathered.
    public internal(set) var localCandidates: [ICECandidate] = []
    /// Usable remote candidates, signalled or peer-reflexive, with canonical IP text.
    public internal(set) var remoteCandidates: [ICECandidate] = []
    public internal(set) var state: ICEConnectionState = .new
    public internal(set) var stats = ICEAgentStats()

    /// The pair application data uses.
    struct Selection {
        var local: ICECandidate
        var remote: ICECandidate
        var priority: UInt64
        /// The ICE generation (restart count) it was selected in, and its credentials, which consent
        /// checks keep using after a restart until a new pair is selected.
        var generation: Int
        var localCredentials: ICECredentials
        var remoteCredentials: ICECredentials
        var lastConsentMicros: Int64
        var nextConsentMicros: Int64

        var path: ICEPath { ICEPath(remote: remote.address, relayed: local.type == .relayed) }
    }

    var checklist: ICEChecklist
    /// Requests in flight, by transaction ID.
    var transactions: [[UInt8]: ICETransaction] = [:]
    var events: [ICEEvent] = []
    let random: () -> UInt64
    /// The latest time the driver told us.
    var nowMicros: Int64 = .min
    /// When the pacer (Ta) allows the next check.
    var nextCheckMicros: Int64 = .min
    var checkingStartedMicros: Int64?
    var firstValidMicros: Int64?
    /// Controlling agent: the path of the pair a USE-CANDIDATE check is out for.
    var nominating: ICEPath?
    var selection: Selection?
    /// Counts ICE restarts.
    var generation = 0
    /// Remote addresses (direct or through the relay) that sent us an authenticated check or
    /// response: application data from them is accepted.
    var authenticatedRemotes: Set<ICEPath> = []
    /// The TURN allocation, when ``ICEAgentOptions/turnServer`` is set (and an IP address).
    var turn: TURNAllocation?
    var remoteEndOfCandidatesReceived = false
    var gatheringComplete = false
    var failed = false
    var closed = false

    /// - Parameters:
    ///   - tieBreaker: nil draws one from `random`.
    ///   - random: 64 random bits per call, for transaction IDs, the tie-breaker and consent jitter;
    ///     the system generator by default, a seeded one in tests.
    public init(role: ICERole, local: ICECredentials, options: ICEAgentOptions = .init(), tieBreaker: UInt64? = nil,
                random: @escaping () -> UInt64 = { UInt64.random(in: .min ... .max) }) {
        self.role = role
        self.localCredentials = local
        self.options = options
        self.random = random
        self.tieBreaker = tieBreaker ?? random()
        self.checklist = ICEChecklist(maxPairs: options.maxPairs)
        if let server = options.turnServer, let address = ICECandidate.canonical(server.address) {
            turn = TURNAllocation(server: server, canonicalAddress: address)
        }
    }

    // MARK: What the driver reads

    /// The pair application data goes over, once ICE selected one (kept across an ICE restart
    /// until the new generation selects its own).
    public var selectedPair: (local: ICECandidate, remote: ICECandidate)? {
        selection.map { ($0.local, $0.remote) }
    }

    /// Where application data goes: the selected pair's remote address (the peer's, also when
    /// the data goes through the TURN server).
    public var remoteAddress: STUNAddress? { selection?.remote.address }

    /// The relayed candidate, once the TURN server allocated it.
    public var relayedCandidate: ICECandidate? { turn?.relayed }

    /// Every local candidate is known (``ICEEvent/gatheringComplete`` was emitted).
    public var isGatheringComplete: Bool { gatheringComplete }

    /// The events since the last call, oldest first.
    public func takeEvents() -> [ICEEvent] {
        defer { events.removeAll() }
        return events
    }

    /// Wraps application data (DTLS, SRTP) for the selected pair (in ChannelData or a Send
    /// indication to the TURN server when its local candidate is relayed); nil when there is none,
    /// or consent was lost (RFC 7675 §5.2: stop sending), or the agent is closed.
    public func send(_ data: [UInt8]) -> ICETransmit? {
        guard !closed, !failed, let selection else { return nil }
        return transmit(data, path: selection.path)
    }

    // MARK: Signalling

    /// The peer's ufrag and password; may come after its candidates (RFC 8838).
    public func setRemoteCredentials(_ credentials: ICECredentials) {
        remoteCredentials = credentials
    }

    /// A remote candidate (from the SDP or trickled). TCP candidates, components other than 1 and
    /// mDNS names are skipped (counted in ``ICEAgentStats/remoteCandidatesSkipped``). A signalled
    /// candidate replaces a peer-reflexive one learned at the same address.
    public func addRemoteCandidate(_ candidate: ICECandidate) {
        guard !closed, candidate.transport.lowercased() == "udp", candidate.component == 1,
              let address = ICECandidate.canonical(candidate.address) else {
            stats.remoteCandidatesSkipped += 1
            return
        }
        var candidate = candidate
        candidate.address = address
        if let known = remoteCandidates.firstIndex(where: { $0.address == address }) {
            guard remoteCandidates[known].type == .peerReflexive, candidate.type != .peerReflexive else {
                stats.remoteCandidatesSkipped += 1
                return
            }
            remoteCandidates[known] = candidate
            for relayed in [false, true] {
                if let index = checklist.index(of: ICEPath(remote: address, relayed: relayed)) {
                    checklist[index].remote = candidate
                    checklist[index].updatePriority(role: role)
                }
            }
            return
        }
        remoteCandidates.append(candidate)
        if !concluded {
            pairIndex(for: candidate, relayed: false)
            pairIndex(for: candidate, relayed: true)
        }
    }

    /// The peer has sent all its candidates (`a=end-of-candidates`): when every pair then fails,
    /// the state is `failed` without waiting for the checking timeout.
    public func remoteEndOfCandidates() {
        remoteEndOfCandidatesReceived = true
    }

    /// ICE restart (RFC 8445 §9): new credentials (the remote ones now or later through
    /// ``setRemoteCredentials(_:)``), an empty checklist and no remote candidates (signal them
    /// again). Local candidates stay. Application data keeps going over the old selected pair,
    /// whose consent checks keep the old credentials, until the new generation selects a pair
    /// (should it never, the old pair stays in use while its consent lasts).
    public func restart(local: ICECredentials, remote: ICECredentials?, nowMicros: Int64) {
        advance(nowMicros)
        guard !closed else { return }
        localCredentials = local
        remoteCredentials = remote
        generation += 1
        checklist = ICEChecklist(maxPairs: options.maxPairs)
        transactions = transactions.filter {
            if case .check = $0.value.purpose { false } else { true }
        }
        remoteCandidates = []
        remoteEndOfCandidatesReceived = false
        checkingStartedMicros = nil
        firstValidMicros = nil
        nominating = nil
        failed = false
        updateState()
    }

    /// Stops everything: state `closed`, nothing more is sent or accepted. A TURN allocation is
    /// released: the returned Refresh (lifetime 0) should be sent; its retransmissions (and a
    /// retry with a new NONCE) come from ``poll(nowMicros:)`` for a driver that keeps the socket
    /// open a little longer, and the answer is taken by ``receive(_:from:nowMicros:)``.
    @discardableResult
    public func close() -> [ICETransmit] {
        guard !closed else { return [] }
        closed = true
        transactions = [:]
        selection = nil
        var out: [ICETransmit] = []
        if var turn, turn.phase == .allocated {
            turn.phase = .releasing
            turn.refreshMicros = nil
            turn.permissions = [:]
            turn.channels = [:]
            self.turn = turn
            let id = sendTURN(.refresh(lifetime: 0))
            if var transaction = transactions[id], case .send(let datagram) = transaction.step(nowMicros: nowMicros) {
                transactions[id] = transaction
                stats.turnRequestsSent += 1
                out.append(ICETransmit(datagram: datagram, destination: transaction.path.remote))
            }
        } else if turn?.phase == .wanted || turn?.phase == .allocating {
            turn?.phase = .failed
        }
        updateState()
        return out
    }

    // MARK: Shared helpers

    /// ICE processing is over for this generation: a pair is selected.
    var concluded: Bool { selection?.generation == generation }

    func emit(_ event: ICEEvent) {
        events.append(event)
    }

    func advance(_ now: Int64) {
        nowMicros = max(nowMicros, now)
    }

    func newTransactionID() -> [UInt8] {
        let a = random(), b = random()
        return (0..<8).map { UInt8(truncatingIfNeeded: a >> (8 * $0)) } + (0..<4).map { UInt8(truncatingIfNeeded: b >> (8 * $0)) }
    }

    /// The highest-priority host candidate of the family (srflx candidates share its socket).
    func bestLocal(ipv6: Bool) -> ICECandidate? {
        localCandidates.filter { $0.type == .host && $0.isIPv6 == ipv6 }.max { $0.priority < $1.priority }
    }

    /// The pair towards `remote` (through the relay when `relayed`), created if missing (nil
    /// without a local candidate of its family, or when the checklist is full of better pairs).
    /// A new relayed pair gets a permission on the TURN server (from the next poll).
    @discardableResult
    func pairIndex(for remote: ICECandidate, relayed: Bool) -> Int? {
        if let index = checklist.index(of: ICEPath(remote: remote.address, relayed: relayed)) { return index }
        let local: ICECandidate
        if relayed {
            guard turn?.phase == .allocated, let candidate = turn?.relayed, candidate.isIPv6 == remote.isIPv6 else { return nil }
            local = candidate
        } else {
            guard let candidate = bestLocal(ipv6: remote.isIPv6) else { return nil }
            local = candidate
        }
        guard let index = checklist.add(ICECandidatePair(local: local, remote: remote, role: role)) else {
            stats.pairsDropped += 1
            return nil
        }
        return index
    }

    /// A datagram to `path`: as it is, or wrapped for the TURN server.
    func transmit(_ datagram: [UInt8], path: ICEPath) -> ICETransmit {
        path.relayed ? relayTransmit(datagram, to: path.remote) : ICETransmit(datagram: datagram, destination: path.remote)
    }

    func switchRole(to newRole: ICERole) {
        guard newRole != role else { return }
        role = newRole
        checklist.updatePriorities(role: role)
        if role == .controlled {
            nominating = nil
            checklist.dropNominations()
        }
    }

    /// The pair at `index` is nominated and valid: select it, unless a higher-priority pair of
    /// this generation already is (RFC 8445 §8.1.1).
    func nominate(_ index: Int) {
        let pair = checklist[index]
        guard let remoteCredentials else { return }
        if let current = selection, current.generation == generation,
           current.path == pair.path || current.priority > pair.priority { return }
        if nominating == pair.path { nominating = nil }
        selection = Selection(local: pair.local, remote: pair.remote, priority: pair.priority, generation: generation,
                              localCredentials: localCredentials, remoteCredentials: remoteCredentials,
                              lastConsentMicros: nowMicros, nextConsentMicros: nowMicros + consentInterval())
        emit(.selectedPair(local: pair.local, remote: pair.remote))
        checklist.removeUnchecked()
    }

    /// RFC 7675 §5.1: the consent interval randomised to 0.8–1.2 times.
    func consentInterval() -> Int64 {
        let interval = max(1, options.consentIntervalMicros)
        let spread = UInt64(max(1, interval * 2 / 5))
        return interval * 4 / 5 + Int64(random() % spread)
    }
}
