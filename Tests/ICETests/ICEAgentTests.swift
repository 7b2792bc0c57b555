import Testing
@testable import ICE

/// Two agents back to back on a ``VirtualNetwork``.
struct Peers {
    let network: VirtualNetwork
    let a: VirtualNetwork.Endpoint
    let b: VirtualNetwork.Endpoint

    static let addressA = STUNAddress(ip: "10.0.0.1", port: 5000)
    static let addressB = STUNAddress(ip: "10.0.0.2", port: 6000)

    init(seed: UInt64 = 1, roles: (ICERole, ICERole) = (.controlling, .controlled),
         tieBreakers: (UInt64?, UInt64?) = (nil, nil), options: ICEAgentOptions = .init(),
         publicA: STUNAddress? = nil, signal: Bool = true) {
        network = VirtualNetwork(seed: seed)
        let agentA = ICEAgent(role: roles.0, local: ICECredentials(ufrag: "ufA\(seed)", pwd: "passwordA-0123456789abcd"),
                              options: options, tieBreaker: tieBreakers.0, random: seededRandom(seed &* 31 &+ 1))
        let agentB = ICEAgent(role: roles.1, local: ICECredentials(ufrag: "ufB\(seed)", pwd: "passwordB-0123456789abcd"),
                              options: options, tieBreaker: tieBreakers.1, random: seededRandom(seed &* 31 &+ 2))
        a = network.add(agentA, host: Self.addressA, publicAddress: publicA)
        b = network.add(agentB, host: Self.addressB)
        if signal {
            network.signal(a, to: b)
            network.signal(b, to: a)
        }
    }

    var bothConnected: Bool { a.isConnected && b.isConnected }

    /// Both selected the same pair (seen from each side), and it carries data both ways.
    func expectSamePair(sourceLocation: SourceLocation = #_sourceLocation) {
        guard let pairA = a.agent.selectedPair, let pairB = b.agent.selectedPair else {
            Issue.record("no selected pair: \(a.agent.state) / \(b.agent.state)", sourceLocation: sourceLocation)
            return
        }
        #expect(pairA.remote.address == b.publicAddress, sourceLocation: sourceLocation)
        #expect(pairB.remote.address == a.publicAddress, sourceLocation: sourceLocation)
        #expect(pairA.local.address == a.host && pairB.local.address == b.host, sourceLocation: sourceLocation)
    }

    func exchangeData() {
        let before = (a.received.count, b.received.count)
        network.send([a.agent.send([0x16, 1, 2, 3])].compactMap { $0 }, from: 0)
        network.send([b.agent.send([0x80, 4, 5, 6])].compactMap { $0 }, from: 1)
        network.run(for: 100_000)
        #expect(b.received.count == before.1 + 1 && b.received.last == [0x16, 1, 2, 3])
        #expect(a.received.count == before.0 + 1 && a.received.last == [0x80, 4, 5, 6])
    }
}

@Suite struct ICEAgentTests {
    @Test func controllingAndControlledConnect() throws {
        let peers = Peers()
        #expect(peers.a.agent.state == .new && peers.a.agent.nextDeadlineMicros != nil)
        peers.network.run(for: 5_000_000) { peers.bothConnected }
        peers.expectSamePair()
        #expect(peers.network.now < 200_000)
        #expect(peers.a.events.map(\.event).contains(.stateChanged(.checking)))
        #expect(peers.a.selections.count == 1 && peers.b.selections.count == 1)
        peers.exchangeData()
        // With end-of-candidates on both sides nothing is left to check: completed; consent
        // checks (every 4 to 6 s) keep it so.
        peers.network.run(for: 40_000_000)
        #expect(peers.a.agent.state == .completed && peers.b.agent.state == .completed)
        for side in [peers.a, peers.b] {
            #expect((6...10).contains(side.agent.stats.consentChecksSent))
            #expect(side.agent.stats.consentResponses == side.agent.stats.consentChecksSent)
            #expect(side.states == [.checking, .connected, .completed])
        }
        #expect(peers.a.agent.role == .controlling && peers.b.agent.role == .controlled)
        #expect(peers.a.agent.stats.integrityFailures == 0 && peers.b.agent.stats.roleConflicts == 0)
    }

    @Test(arguments: [(ICERole.controlling, ICERole.controlling), (.controlled, .controlled)])
    func roleConflictResolves(roles: (ICERole, ICERole)) {
        let peers = Peers(roles: roles, tieBreakers: (100, 200))
        peers.network.run(for: 5_000_000) { peers.bothConnected }
        peers.expectSamePair()
        // The higher tie-breaker (B) ends up controlling.
        #expect(peers.b.agent.role == .controlling && peers.a.agent.role == .controlled)
        #expect(peers.a.agent.stats.roleConflicts + peers.b.agent.stats.roleConflicts > 0)
        peers.exchangeData()
    }

    @Test func wrongPasswordNeverConnects() {
        let peers = Peers(signal: false)
        let (a, b) = (peers.a.agent, peers.b.agent)
        a.setRemoteCredentials(ICECredentials(ufrag: b.localCredentials.ufrag, pwd: "not-the-password-of-b!!"))
        b.setRemoteCredentials(ICECredentials(ufrag: a.localCredentials.ufrag, pwd: "not-the-password-of-a!!"))
        peers.network.signal(peers.a, to: peers.b, credentials: false)
        peers.network.signal(peers.b, to: peers.a, credentials: false)
        peers.network.run(for: 40_000_000)
        #expect(a.stats.integrityFailures > 0 && b.stats.integrityFailures > 0)
        #expect(peers.a.time(of: .connected) == nil && peers.b.time(of: .connected) == nil)
        #expect(a.state == .failed && b.state == .failed)
        #expect(a.selectedPair == nil && a.send([1]) == nil)
    }

    /// A is behind a NAT and trickles late; B learns A's public address from A's checks, and
    /// gets A's credentials only after those checks arrived.
    @Test func peerReflexiveWithLateCandidatesAndCredentials() {
        let publicA = STUNAddress(ip: "198.51.100.1", port: 40000)
        let peers = Peers(publicA: publicA, signal: false)
        let (a, b) = (peers.a.agent, peers.b.agent)
        a.setRemoteCredentials(b.localCredentials)
        peers.network.signal(peers.a, to: peers.b, credentials: false)   // A's host address: unreachable
        peers.network.run(for: 200_000)
        #expect(a.state == .new && b.state == .new)   // A has no candidate of B's, B no credentials of A's
        for candidate in b.localCandidates { a.addRemoteCandidate(candidate) }   // trickled late
        peers.network.run(for: 100_000)
        #expect(b.remoteCandidates.contains { $0.type == .peerReflexive && $0.address == publicA })
        #expect(b.selectedPair == nil)   // its own check waits for A's credentials
        b.setRemoteCredentials(a.localCredentials)
        peers.network.run(for: 5_000_000) { peers.bothConnected }
        peers.expectSamePair()
        #expect(b.selectedPair?.remote.type == .peerReflexive)
        #expect(b.stats.peerReflexiveLearned == 1)
        peers.exchangeData()
    }

    @Test func connectsDespite30PercentLoss() {
        var lost = 0, retransmissions = 0
        for seed: UInt64 in 1...10 {
            let peers = Peers(seed: seed)
            peers.network.lossRate = 0.3
            peers.network.run(for: 20_000_000) { peers.bothConnected }
            peers.expectSamePair()
            lost += peers.network.lost
            retransmissions += peers.a.agent.stats.retransmissions + peers.b.agent.stats.retransmissions
        }
        #expect(lost > 10 && retransmissions > 0)
    }

    @Test func consentLostFailsAfterAbout30Seconds() throws {
        let peers = Peers()
        peers.network.run(for: 5_000_000) { peers.bothConnected }
        let vanished = peers.network.now
        peers.network.delivering = false
        peers.network.run(for: 40_000_000)
        for side in [peers.a, peers.b] {
            let failedAt = try #require(side.time(of: .failed, after: vanished))
            let disconnectedAt = try #require(side.time(of: .disconnected, after: vanished))
            #expect(disconnectedAt < failedAt)
            #expect((25_000_000...35_000_000).contains(failedAt - vanished), "failed \(failedAt - vanished) µs after")
            #expect(side.agent.send([1]) == nil && side.agent.remoteAddress == nil)
        }
    }

    @Test func iceRestartReconnectsWithNewCredentials() {
        let peers = Peers()
        let (a, b) = (peers.a.agent, peers.b.agent)
        peers.network.run(for: 5_000_000) { peers.bothConnected }
        let oldPair = a.selectedPair
        let restartedAt = peers.network.now
        let newA = ICECredentials(ufrag: "newA", pwd: "new-password-A-012345678")
        let newB = ICECredentials(ufrag: "newB", pwd: "new-password-B-012345678")
        a.restart(local: newA, remote: nil, nowMicros: restartedAt)   // B's answer comes later
        b.restart(local: newB, remote: newA, nowMicros: restartedAt)
        #expect(a.remoteAddress == oldPair?.remote.address && a.send([9]) != nil)   // still sending
        peers.network.signal(peers.a, to: peers.b, credentials: false)
        peers.network.run(for: 100_000)
        a.setRemoteCredentials(newB)
        peers.network.signal(peers.b, to: peers.a, credentials: false)
        peers.network.run(for: 5_000_000) {
            peers.a.selections.count == 2 && peers.b.selections.count == 2
        }
        #expect(peers.a.selections.last!.time > restartedAt && peers.b.selections.last!.time > restartedAt)
        #expect(a.selection?.generation == 1 && a.selection?.localCredentials == newA)
        #expect(b.selection?.remoteCredentials == newA)
        peers.expectSamePair()
        peers.exchangeData()
        peers.network.run(for: 40_000_000)   // consent keeps running on the new credentials
        #expect(peers.bothConnected)
    }

    @Test func checkingTimesOutOrFailsWithEndOfCandidates() {
        for endOfCandidates in [false, true] {
            let agent = ICEAgent(role: .controlled, local: .random(), random: seededRandom(5))
            let network = VirtualNetwork(seed: 5)
            let endpoint = network.add(agent, host: Peers.addressA)
            agent.setRemoteCredentials(.random())
            agent.addRemoteCandidate(ICECandidate(foundation: "1", priority: 1, address: Peers.addressB, type: .host))
            if endOfCandidates { agent.remoteEndOfCandidates() }
            network.run(for: 60_000_000)
            let failedAt = endpoint.time(of: .failed)
            #expect(agent.state == .failed)
            if endOfCandidates {
                #expect(failedAt.map { $0 < 12_000_000 } == true, "every pair failed: \(failedAt ?? -1)")
            } else {
                #expect(failedAt == 30_000_000)
            }
            #expect(agent.stats.checksSent == 1 && agent.stats.retransmissions == 6)
            #expect(agent.nextDeadlineMicros == nil)
        }
    }

    @Test func closeStopsEverything() {
        let peers = Peers()
        peers.network.run(for: 5_000_000) { peers.bothConnected }
        peers.a.agent.close()
        #expect(peers.a.agent.state == .closed && peers.a.agent.nextDeadlineMicros == nil)
        #expect(peers.a.agent.send([1]) == nil && peers.a.agent.poll(nowMicros: peers.network.now).isEmpty)
        #expect(peers.a.agent.receive([0x16], from: Peers.addressB, nowMicros: peers.network.now) == .dropped(reason: "the ICE agent is closed"))
        #expect(peers.a.agent.takeEvents().last == .stateChanged(.closed))
    }
}
