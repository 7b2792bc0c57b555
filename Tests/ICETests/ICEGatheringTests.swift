import Testing
@testable import ICE

@Suite struct ICEGatheringTests {
    static let server = STUNAddress(ip: "192.0.2.10", port: 3478)
    static let host = STUNAddress(ip: "10.0.0.1", port: 5000)
    static let mapped = STUNAddress(ip: "198.51.100.1", port: 40000)

    func agentWithServer() -> ICEAgent {
        ICEAgent(role: .controlled, local: .random(), options: ICEAgentOptions(stunServer: Self.server), random: seededRandom(3))
    }

    @Test func serverReflexiveFromAFakeServer() throws {
        let network = VirtualNetwork(seed: 3)
        var requests = 0
        network.stunServer = (Self.server, { bytes, from in
            requests += 1
            guard let request = try? STUNMessage(parsing: bytes), request.messageClass == .request else { return nil }
            return STUNMessage.bindingSuccess(for: request, mapped: from).serialized()
        })
        let agent = agentWithServer()
        let endpoint = network.add(agent, host: Self.host, publicAddress: Self.mapped)
        agent.gatherServerReflexive(nowMicros: 0)
        network.run(for: 1_000_000) { agent.gatheringComplete }
        let events = endpoint.events.map(\.event)
        #expect(events.count == 3 && events.last == .gatheringComplete)
        guard case .localCandidate(let host) = events[0], case .localCandidate(let srflx) = events[1] else {
            Issue.record("expected two candidates: \(events)")
            return
        }
        #expect(host.type == .host && host.address == Self.host && host.priority == 2_130_706_431)
        #expect(srflx.type == .serverReflexive && srflx.address == Self.mapped && srflx.related == Self.host)
        #expect(srflx.priority == ICECandidate.priority(type: .serverReflexive))
        #expect(srflx.foundation != host.foundation)
        #expect(srflx.sdpValue.hasSuffix("198.51.100.1 40000 typ srflx raddr 10.0.0.1 rport 5000"))
        #expect(requests == 1 && agent.localCandidates == [host, srflx])
        #expect(agent.nextDeadlineMicros == nil)
    }

    @Test func silentServerIsGivenUpAfterTenSeconds() {
        let network = VirtualNetwork(seed: 4)
        var sentAt: [Int64] = []
        network.stunServer = (Self.server, { _, _ in
            sentAt.append(network.now)
            return nil
        })
        let agent = agentWithServer()
        let endpoint = network.add(agent, host: Self.host)
        agent.gatherServerReflexive(nowMicros: 0)
        network.run(for: 30_000_000)
        // RTO 500 ms doubling: 0, 0.5, 1.5, 3.5, 7.5 s; given up at 10 s.
        #expect(sentAt == [0, 500_000, 1_500_000, 3_500_000, 7_500_000])
        #expect(endpoint.events.last?.event == .gatheringComplete && endpoint.events.last?.time == 10_000_000)
        #expect(agent.localCandidates.count == 1 && agent.stats.retransmissions == 4)
    }

    @Test func withoutAServerGatheringCompletesAtOnce() {
        let agent = ICEAgent(role: .controlling, local: .random())
        agent.addLocalHostCandidate(Self.host)
        agent.addLocalHostCandidate(STUNAddress(ip: "fd00:0::1", port: 5000))
        #expect(agent.addLocalHostCandidate(Self.host) == nil && agent.addLocalHostCandidate(.init(ip: "x.local", port: 1)) == nil)
        agent.gatherServerReflexive(nowMicros: 0)
        let events = agent.takeEvents()
        #expect(events.count == 3 && events.last == .gatheringComplete)
        #expect(agent.localCandidates[1].address.ip == "fd00::1")
        #expect(agent.localCandidates[1].priority < agent.localCandidates[0].priority)
        agent.finishGathering()
        #expect(agent.takeEvents().isEmpty)
        #expect(agent.nextDeadlineMicros == nil)
    }

    @Test func pairsOnlyUsableCandidatesOfTheSameFamily() throws {
        let agent = ICEAgent(role: .controlling, local: .random())
        agent.addLocalHostCandidate(Self.host)
        agent.addLocalHostCandidate(STUNAddress(ip: "fd00::1", port: 5000))
        let lines = [
            "1 1 udp 2130706431 10.0.0.2 6000 typ host",
            "2 1 udp 2130706175 FD00:0:0::2 6000 typ host",
            "3 1 udp 2130706431 0b7a.local 6000 typ host",
            "4 1 tcp 1518280447 10.0.0.2 9 typ host tcptype active",
            "5 2 udp 2130706430 10.0.0.2 6001 typ host",
            "6 1 udp 1694498815 198.51.100.2 6000 typ srflx raddr 10.0.0.2 rport 6000",
            "1 1 udp 2130706431 10.0.0.2 6000 typ host",
        ]
        for line in lines { agent.addRemoteCandidate(try ICECandidate(sdpValue: line)) }
        #expect(agent.stats.remoteCandidatesSkipped == 4)
        #expect(agent.remoteCandidates.map(\.address.ip) == ["10.0.0.2", "fd00::2", "198.51.100.2"])
        let pairs = agent.checklist.pairs
        #expect(pairs.count == 3)
        #expect(pairs.allSatisfy { $0.local.isIPv6 == $0.remote.isIPv6 })
        #expect(agent.nextDeadlineMicros == nil)   // no remote credentials yet
        agent.setRemoteCredentials(.random())
        #expect(agent.nextDeadlineMicros != nil)
        // The host pair goes first.
        let first = agent.poll(nowMicros: 0)
        #expect(first.map(\.destination) == [STUNAddress(ip: "10.0.0.2", port: 6000)])
        #expect(agent.poll(nowMicros: 10_000).isEmpty && agent.nextDeadlineMicros == 50_000)
    }

    @Test func checklistCapKeepsTheBestPairs() {
        var options = ICEAgentOptions()
        options.maxPairs = 4
        let agent = ICEAgent(role: .controlling, local: .random(), options: options)
        agent.addLocalHostCandidate(Self.host)
        for index in 0..<10 {
            agent.addRemoteCandidate(ICECandidate(foundation: "\(index)", priority: UInt32(1000 + index),
                                                  address: STUNAddress(ip: "10.0.1.\(index)", port: 1), type: .host))
        }
        #expect(agent.checklist.pairs.count == 4)
        #expect(Set(agent.checklist.pairs.map(\.remote.priority)) == [1006, 1007, 1008, 1009])
        #expect(agent.stats.pairsDropped == 0 && agent.remoteCandidates.count == 10)
        agent.addRemoteCandidate(ICECandidate(foundation: "x", priority: 1, address: .init(ip: "10.0.2.1", port: 1), type: .host))
        #expect(agent.stats.pairsDropped == 1)
    }
}
