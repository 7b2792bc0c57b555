import SeededRandom
import Testing
@testable import ICE

/// Agent A (controlled, the recorder) allocates on a ``TURNServerModel``; agent B (controlling)
/// has host candidates only. With `blockDirect` nothing goes straight between them, so only the
/// pair on A's relayed candidate can work.
struct RelayedPeers {
    static let server = STUNAddress(ip: "192.0.2.50", port: 3478)
    static let hostA = STUNAddress(ip: "10.0.0.1", port: 5000)
    static let publicA = STUNAddress(ip: "198.51.100.1", port: 40000)
    static let hostB = STUNAddress(ip: "10.0.0.2", port: 6000)

    let network: VirtualNetwork
    let turn: TURNServerModel
    let a: VirtualNetwork.Endpoint
    let b: VirtualNetwork.Endpoint

    init(seed: UInt64 = 1, blockDirect: Bool = true, password: String = "secret") {
        network = VirtualNetwork(seed: seed)
        turn = TURNServerModel(address: Self.server, relayIP: "192.0.2.51")
        network.turnServer = turn
        network.blocked = { _, _ in blockDirect }
        var options = ICEAgentOptions()
        options.turnServer = TURNServer(address: Self.server, username: "test", password: password)
        let agentA = ICEAgent(role: .controlled, local: ICECredentials(ufrag: "ufA", pwd: "passwordA-0123456789abcd"),
                              options: options, random: seededRandom(seed &* 31 &+ 1))
        let agentB = ICEAgent(role: .controlling, local: ICECredentials(ufrag: "ufB", pwd: "passwordB-0123456789abcd"),
                              random: seededRandom(seed &* 31 &+ 2))
        a = network.add(agentA, host: Self.hostA, publicAddress: Self.publicA)
        b = network.add(agentB, host: Self.hostB)
        agentA.gatherRelayed()
        agentA.finishGathering()
    }

    var bothConnected: Bool { a.isConnected && b.isConnected }

    /// Gathers A's candidates, then signals both ways.
    func gatherAndSignal() {
        network.run(for: 20_000_000) { a.agent.gatheringComplete }
        network.signal(a, to: b)
        network.signal(b, to: a)
    }

    var relayAddress: STUNAddress? { a.agent.relayedCandidate?.address }
}

@Suite struct TURNTests {
    // MARK: Allocation

    @Test func allocatesAfterTheChallenge() throws {
        let peers = RelayedPeers()
        peers.network.run(for: 20_000_000) { peers.a.agent.gatheringComplete }
        let events = peers.a.events
        #expect(events.count == 3, "\(events)")
        guard events.count == 3, case .localCandidate(let host) = events[0].event,
              case .localCandidate(let relay) = events[1].event, events[2].event == .gatheringComplete else { return }
        #expect(host.type == .host)
        #expect(relay.type == .relayed && relay.address == STUNAddress(ip: "192.0.2.51", port: 49160))
        #expect(relay.related == RelayedPeers.publicA)   // XOR-MAPPED-ADDRESS
        #expect(relay.priority == ICECandidate.priority(type: .relayed))
        #expect(relay.sdpValue.hasSuffix("192.0.2.51 49160 typ relay raddr 198.51.100.1 rport 40000"))
        // 401 then the authenticated Allocate: two round trips of 10 ms.
        #expect(events[1].time == 20_000 && events[2].time == 20_000)
        let allocates = peers.turn.requests(STUNMessage.allocateMethod)
        #expect(allocates.map(\.answer) == [401, 200] && allocates.map(\.authenticated) == [false, true])
        #expect(peers.a.agent.stats.turnAllocations == 1 && peers.a.agent.stats.turnRequestsSent == 2)
        #expect(peers.a.agent.stats.retransmissions == 0)
        // Next: the refresh at 80 % of 600 s.
        #expect(peers.a.agent.nextDeadlineMicros == 480_020_000)
    }

    @Test func silentServerIsGivenUpAndGatheringCompletes() {
        let peers = RelayedPeers()
        peers.turn.silent = true
        var sentAt: [Int64] = []
        let network = peers.network
        network.stunServer = nil
        // Count the Allocate transmissions through the model's silence: watch the agent's stats.
        var lastSent = 0
        network.run(for: 30_000_000) {
            let sent = peers.a.agent.stats.turnRequestsSent + peers.a.agent.stats.retransmissions
            if sent > lastSent {
                sentAt.append(network.now)
                lastSent = sent
            }
            return false
        }
        // RTO 500 ms doubling up to 2 s, 7 transmissions, given up 2 s after the last.
        #expect(sentAt == [0, 500_000, 1_500_000, 3_500_000, 5_500_000, 7_500_000, 9_500_000])
        #expect(peers.a.events.last?.event == .gatheringComplete && peers.a.events.last?.time == 11_500_000)
        #expect(peers.a.agent.localCandidates.count == 1 && peers.a.agent.relayedCandidate == nil)
        #expect(peers.a.agent.stats.turnAllocationFailures == 1 && peers.a.agent.stats.turnTimeouts == 1)
        #expect(peers.a.agent.nextDeadlineMicros == nil)
    }

    @Test func allocateErrorsAndWrongPasswordsGiveUp() {
        let quota = RelayedPeers()
        quota.turn.allocateError = 486
        quota.network.run(for: 5_000_000) { quota.a.agent.gatheringComplete }
        #expect(quota.a.agent.gatheringComplete && quota.a.agent.relayedCandidate == nil)
        #expect(quota.a.agent.stats.turnAllocationFailures == 1 && quota.a.agent.stats.turnErrorResponses == 1)

        let wrong = RelayedPeers(password: "not-the-password")
        wrong.network.run(for: 5_000_000) { wrong.a.agent.gatheringComplete }
        #expect(wrong.a.agent.gatheringComplete && wrong.a.agent.relayedCandidate == nil)
        // The first Allocate and two with (wrong) credentials, all answered 401.
        #expect(wrong.turn.requests(STUNMessage.allocateMethod).map(\.answer) == [401, 401, 401])
        #expect(wrong.a.agent.stats.turnAllocationFailures == 1)
    }

    // MARK: Connectivity through the relay

    @Test func connectsThroughTheRelayWhenDirectPathsAreBlocked() throws {
        let peers = RelayedPeers()
        peers.gatherAndSignal()
        let start = peers.network.now
        peers.network.run(for: 20_000_000) { peers.bothConnected }
        #expect(peers.bothConnected)
        let pairA = try #require(peers.a.agent.selectedPair)
        let pairB = try #require(peers.b.agent.selectedPair)
        #expect(pairA.local.type == .relayed && pairA.remote.address == RelayedPeers.hostB)
        #expect(pairB.remote.address == peers.relayAddress && pairB.local.address == RelayedPeers.hostB)
        #expect(peers.network.blockedCount > 0)
        #expect(peers.network.now - start < 2_000_000)
        // The permission for B's IP came before any check through the relay got answered.
        #expect(peers.turn.requests(STUNMessage.createPermissionMethod).map(\.answer) == [200])

        // Data both ways; A sees it from B's address.
        peers.network.send([peers.a.agent.send([0x16, 1, 2, 3])].compactMap { $0 }, from: 0)
        peers.network.send([peers.b.agent.send([0x80, 4, 5, 6])].compactMap { $0 }, from: 1)
        peers.network.run(for: 200_000)
        #expect(peers.b.received.last == [0x16, 1, 2, 3])
        #expect(peers.a.received.last == [0x80, 4, 5, 6] && peers.a.receivedFrom.last == RelayedPeers.hostB)
        // The selected pair got a channel: from now on ChannelData both ways.
        #expect(peers.turn.requests(STUNMessage.channelBindMethod).map(\.answer) == [200])
        let (inBefore, outBefore) = (peers.turn.channelDataIn, peers.turn.channelDataOut)
        let transmit = try #require(peers.a.agent.send([0x17, 9]))
        #expect(transmit.destination == RelayedPeers.server && transmit.datagram[0] == 0x40 && transmit.datagram.count == 6)
        peers.network.send([transmit], from: 0)
        peers.network.send([peers.b.agent.send([0x81, 8])].compactMap { $0 }, from: 1)
        peers.network.run(for: 200_000)
        #expect(peers.turn.channelDataIn == inBefore + 1 && peers.turn.channelDataOut == outBefore + 1)
        #expect(peers.b.received.last == [0x17, 9] && peers.a.received.last == [0x81, 8])
        #expect(peers.a.agent.stats.relayedReceived > 0 && peers.a.agent.stats.relayedSent > 0)
        #expect(peers.a.agent.stats.integrityFailures == 0 && peers.b.agent.stats.integrityFailures == 0)
    }

    @Test func refreshesKeepTheRelayUpForElevenMinutes() throws {
        let peers = RelayedPeers(seed: 7)
        peers.gatherAndSignal()
        let allocatedAt = try #require(peers.turn.requests(STUNMessage.allocateMethod).last?.time)
        peers.network.run(for: 20_000_000) { peers.bothConnected }
        let permissionAt = try #require(peers.turn.requests(STUNMessage.createPermissionMethod).first?.time)
        let channelAt = try #require(peers.turn.requests(STUNMessage.channelBindMethod).first?.time)
        peers.network.run(for: 660_000_000)
        // Consent went on through the relay all along: the model drops what an expired permission
        // or channel would not let through.
        #expect(peers.a.isConnected && peers.b.isConnected, "\(peers.a.agent.state) \(peers.b.agent.state)")
        #expect(peers.a.agent.selectedPair?.local.type == .relayed && peers.turn.droppedNoPermission == 0)
        #expect(peers.a.agent.stats.consentResponses > 100)
        let refreshes = peers.turn.requests(STUNMessage.refreshMethod)
        // Each period counts from the success response, a 10 ms round trip after the request.
        #expect(refreshes.map(\.time) == [allocatedAt + 480_010_000] && refreshes.allSatisfy { $0.answer == 200 })
        #expect(refreshes.first?.lifetime == 600)
        // Permissions every 4 minutes, the channel every 5.
        let permissions = peers.turn.requests(STUNMessage.createPermissionMethod).map(\.time)
        #expect(permissions == [permissionAt, permissionAt + 240_010_000, permissionAt + 480_020_000])
        let channels = peers.turn.requests(STUNMessage.channelBindMethod).map(\.time)
        #expect(channels == [channelAt, channelAt + 300_010_000, channelAt + 600_020_000])
        #expect(peers.a.agent.stats.turnRefreshes == 1 && peers.a.agent.stats.turnPermissions == 3)
        #expect(peers.a.agent.stats.turnChannelBinds == 3 && peers.a.agent.stats.turnTimeouts == 0)
    }

    @Test func staleNonceIsAnsweredWithTheRequestAgain() throws {
        let peers = RelayedPeers(seed: 3)
        peers.gatherAndSignal()
        peers.network.run(for: 20_000_000) { peers.bothConnected }
        peers.turn.nonce = "nonce-2"
        let permissionAt = try #require(peers.turn.requests(STUNMessage.createPermissionMethod).first?.time)
        peers.network.run(for: 250_000_000)
        let refreshed = peers.turn.requests(STUNMessage.createPermissionMethod).dropFirst()
        #expect(refreshed.map(\.answer) == [438, 200])
        #expect(refreshed.map(\.time) == [permissionAt + 240_010_000, permissionAt + 240_020_000])
        #expect(peers.a.isConnected && peers.turn.droppedNoPermission == 0)
        #expect(peers.a.agent.stats.turnErrorResponses == 0)
    }

    @Test func closeReleasesTheAllocation() throws {
        let peers = RelayedPeers(seed: 5)
        peers.gatherAndSignal()
        peers.network.run(for: 20_000_000) { peers.bothConnected }
        #expect(peers.turn.allocations.count == 1)
        // A changed nonce on the way: 438, and the release is sent again from poll.
        peers.turn.nonce = "nonce-3"
        let out = peers.a.agent.close()
        #expect(out.count == 1 && out.first?.destination == RelayedPeers.server)
        #expect(peers.a.agent.state == .closed)
        peers.network.send(out, from: 0)
        peers.network.run(for: 1_000_000) { peers.a.agent.stats.turnReleases == 1 }
        #expect(peers.turn.allocations.isEmpty)
        let refreshes = peers.turn.requests(STUNMessage.refreshMethod)
        #expect(refreshes.map(\.answer) == [438, 200] && refreshes.allSatisfy { $0.lifetime == 0 })
        #expect(peers.a.agent.nextDeadlineMicros == nil && peers.a.agent.close().isEmpty)
        // Nothing more from the closed agent, and nothing taken.
        #expect(peers.a.agent.send([1, 2, 3]) == nil)
        #expect(peers.a.agent.poll(nowMicros: peers.network.now + 600_000_000).isEmpty)
    }

    @Test func withoutTURNServerGatherRelayedDoesNothing() {
        let agent = ICEAgent(role: .controlled, local: .random())
        agent.addLocalHostCandidate(RelayedPeers.hostA)
        agent.gatherRelayed()
        agent.finishGathering()
        #expect(agent.takeEvents().last == .gatheringComplete)
        #expect(agent.poll(nowMicros: 0).isEmpty && agent.nextDeadlineMicros == nil && agent.close().isEmpty)
    }
}
