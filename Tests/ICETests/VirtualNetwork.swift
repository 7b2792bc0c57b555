import SeededRandom
import Testing
@testable import ICE

/// ICE agents on a virtual clock, joined by an in-memory network with a fixed delay, seeded random
/// loss and optional NAT (an endpoint is seen at its public address). `run` delivers packets when
/// due and polls each agent at its deadline, recording events with their times.
final class VirtualNetwork {
    final class Endpoint {
        let agent: ICEAgent
        let host: STUNAddress
        let publicAddress: STUNAddress
        var events: [(time: Int64, event: ICEEvent)] = []
        /// Application data received, and from whom (as the agent says: the peer, also when relayed).
        var received: [[UInt8]] = []
        var receivedFrom: [STUNAddress] = []

        init(agent: ICEAgent, host: STUNAddress, publicAddress: STUNAddress) {
            self.agent = agent
            self.host = host
            self.publicAddress = publicAddress
        }

        /// When the state first became `state`, at or after `after`.
        func time(of state: ICEConnectionState, after: Int64 = .min) -> Int64? {
            events.first { $0.time >= after && $0.event == .stateChanged(state) }?.time
        }

        var selections: [(time: Int64, local: ICECandidate, remote: ICECandidate)] {
            events.compactMap {
                if case .selectedPair(let local, let remote) = $0.event { ($0.time, local, remote) } else { nil }
            }
        }

        var states: [ICEConnectionState] {
            events.compactMap { if case .stateChanged(let state) = $0.event { state } else { nil } }
        }

        var isConnected: Bool { agent.state == .connected || agent.state == .completed }
    }

    struct Packet {
        var at: Int64
        var sequence: Int
        var to: Int
        var datagram: [UInt8]
        var from: STUNAddress
    }

    private(set) var endpoints: [Endpoint] = []
    private(set) var now: Int64 = 0
    var delayMicros: Int64 = 5_000
    var lossRate = 0.0
    /// False: every packet is lost.
    var delivering = true
    var random: SplitMix64
    /// Packets lost to `lossRate`.
    private(set) var lost = 0
    /// A STUN server: its address and what it answers a request from a public address with.
    var stunServer: (address: STUNAddress, answer: ([UInt8], STUNAddress) -> [UInt8]?)?
    /// A TURN server model: takes what is sent to its address or to one of its relayed addresses.
    var turnServer: TURNServerModel?
    /// Drops a datagram between two endpoints (public source, destination) when true; what goes to
    /// or comes from the TURN server is not filtered.
    var blocked: (STUNAddress, STUNAddress) -> Bool = { _, _ in false }
    /// Datagrams dropped by `blocked`.
    private(set) var blockedCount = 0
    private var inFlight: [Packet] = []
    private var sequence = 0

    init(seed: UInt64) {
        random = SplitMix64(seed: seed)
    }

    @discardableResult
    func add(_ agent: ICEAgent, host: STUNAddress, publicAddress: STUNAddress? = nil) -> Endpoint {
        agent.addLocalHostCandidate(host)
        let endpoint = Endpoint(agent: agent, host: host, publicAddress: publicAddress ?? host)
        endpoints.append(endpoint)
        return endpoint
    }

    /// Signals `from`'s credentials and candidates to `to` (with end-of-candidates).
    func signal(_ from: Endpoint, to: Endpoint, credentials: Bool = true, candidates: Bool = true) {
        if credentials { to.agent.setRemoteCredentials(from.agent.localCredentials) }
        if candidates {
            for candidate in from.agent.localCandidates { to.agent.addRemoteCandidate(candidate) }
            to.agent.remoteEndOfCandidates()
        }
    }

    func send(_ transmits: [ICETransmit], from index: Int) {
        for transmit in transmits {
            guard delivering else { continue }
            if lossRate > 0, Double(random.next() % 1_000_000) / 1_000_000 < lossRate {
                lost += 1
                continue
            }
            let source = endpoints[index].publicAddress
            if let stunServer, transmit.destination == stunServer.address {
                if let answer = stunServer.answer(transmit.datagram, source) {
                    enqueue(Packet(at: now + 2 * delayMicros, sequence: 0, to: index, datagram: answer, from: stunServer.address))
                }
            } else if let turnServer, let outputs = turnServer.handle(transmit.datagram, from: source, to: transmit.destination, now: now) {
                // The server sits half-way: each hop takes `delayMicros`.
                for output in outputs {
                    guard let target = endpoints.firstIndex(where: { $0.publicAddress == output.to }) else { continue }
                    enqueue(Packet(at: now + 2 * delayMicros, sequence: 0, to: target, datagram: output.datagram, from: output.from))
                }
            } else if let target = endpoints.firstIndex(where: { $0.publicAddress == transmit.destination }) {
                if blocked(source, transmit.destination) {
                    blockedCount += 1
                    continue
                }
                enqueue(Packet(at: now + delayMicros, sequence: 0, to: target, datagram: transmit.datagram, from: source))
            }
        }
    }

    private func enqueue(_ packet: Packet) {
        var packet = packet
        sequence += 1
        packet.sequence = sequence
        inFlight.append(packet)
    }

    /// Runs for `duration` µs of virtual time, or until `done` holds.
    func run(for duration: Int64, until done: () -> Bool = { false }) {
        let end = now + duration
        var passesAtThisTime = 0
        while true {
            inFlight.sort { ($0.at, $0.sequence) < ($1.at, $1.sequence) }
            while let packet = inFlight.first, packet.at <= now {
                inFlight.removeFirst()
                deliver(packet)
            }
            for (index, endpoint) in endpoints.enumerated() {
                if let deadline = endpoint.agent.nextDeadlineMicros, deadline <= now {
                    send(endpoint.agent.poll(nowMicros: now), from: index)
                }
                endpoint.events += endpoint.agent.takeEvents().map { (now, $0) }
            }
            if done() { return }
            var next = inFlight.map(\.at).min()
            for endpoint in endpoints {
                if let deadline = endpoint.agent.nextDeadlineMicros { next = min(next ?? deadline, deadline) }
            }
            guard let next, next <= end else {
                now = end
                return
            }
            if next <= now {
                passesAtThisTime += 1
                if passesAtThisTime > 100 {
                    Issue.record("no progress at \(now) µs: a deadline stays due after poll")
                    return
                }
            } else {
                passesAtThisTime = 0
                now = next
            }
        }
    }

    private func deliver(_ packet: Packet) {
        let endpoint = endpoints[packet.to]
        switch endpoint.agent.receive(packet.datagram, from: packet.from, nowMicros: now) {
        case .handled(let replies): send(replies, from: packet.to)
        case .applicationData(let data, let from):
            endpoint.received.append(data)
            endpoint.receivedFrom.append(from)
        case .dropped: break
        }
    }
}

/// A seeded random source for an agent.
func seededRandom(_ seed: UInt64) -> () -> UInt64 {
    var generator = SplitMix64(seed: seed)
    return { generator.next() }
}
