import SeededRandom
import Testing
@testable import ICE

/// TURN framing, and an agent fed malformed or hostile TURN traffic directly.
@Suite struct TURNMessageTests {
    static let server = STUNAddress(ip: "192.0.2.50", port: 3478)
    static let host = STUNAddress(ip: "10.0.0.1", port: 5000)
    static let id: [UInt8] = Array(1...12)

    // MARK: Codec

    @Test func longTermKeyIsMD5OfUserRealmPassword() {
        // hashlib.md5(b"test:flowrec:secret").digest()
        #expect(TURN.longTermKey(username: "test", realm: "flowrec", password: "secret")
            == [132, 228, 75, 131, 121, 6, 8, 177, 177, 9, 40, 95, 71, 41, 26, 39])
    }

    @Test func turnAttributesRoundTrip() throws {
        let attributes: [STUNAttribute] = [
            .channelNumber(0x4001), .lifetime(600), .xorPeerAddress(STUNAddress(ip: "10.99.0.2", port: 6000)),
            .data([1, 2, 3, 4, 5]), .realm("flowrec"), .nonce("abc"), .requestedTransport(17),
            .xorRelayedAddress(STUNAddress(ip: "fd00::1", port: 49160)),
        ]
        let bytes = STUNMessage(method: STUNMessage.channelBindMethod, messageClass: .request, transactionID: Self.id,
                                attributes: attributes).serialized()
        let parsed = try STUNMessage(parsing: bytes)
        #expect(parsed.method == 0x009 && Array(parsed.attributes.dropLast()) == attributes)
        #expect(parsed.channelNumber == 0x4001 && parsed.lifetime == 600 && parsed.data == [1, 2, 3, 4, 5])
        #expect(parsed.realm == "flowrec" && parsed.nonce == "abc" && parsed.requestedTransport == 17)
        // Wire form: CHANNEL-NUMBER is the number then RFFU; REQUESTED-TRANSPORT the protocol then 3 zero bytes;
        // XOR-PEER-ADDRESS port 6000 ^ 0x2112 = 0x3662, 10.99.0.2 ^ 0x2112a442 = 0x2b71a440.
        #expect(Array(bytes[20..<28]) == [0x00, 0x0C, 0, 4, 0x40, 0x01, 0, 0])
        #expect(Array(bytes[36..<48]) == [0x00, 0x12, 0, 8, 0, 1, 0x36, 0x62, 0x2B, 0x71, 0xA4, 0x40])
        // Methods in the type field (class bits interleaved): Allocate request 0x0003, Data indication 0x0017.
        #expect(STUNMessage(method: STUNMessage.allocateMethod, messageClass: .request, transactionID: Self.id).serialized()[0...1] == [0, 3])
        #expect(STUNMessage(method: STUNMessage.dataMethod, messageClass: .indication, transactionID: Self.id).serialized()[0...1] == [0, 0x17])
        #expect(STUNMessage(method: STUNMessage.refreshMethod, messageClass: .errorResponse, transactionID: Self.id).serialized()[0...1] == [1, 0x14])
    }

    @Test func malformedTURNAttributesAreErrors() {
        func message(_ type: UInt16, _ value: [UInt8]) -> [UInt8] {
            STUNMessage(method: STUNMessage.allocateMethod, messageClass: .successResponse, transactionID: Self.id,
                        attributes: [.unknown(type: type, value: value)]).serialized(fingerprint: false)
        }
        #expect(throws: STUNError.self) { try STUNMessage(parsing: message(0x000D, [0, 0, 2])) }   // LIFETIME of 3 bytes
        #expect(throws: STUNError.self) { try STUNMessage(parsing: message(0x000C, [0x40, 0])) }   // CHANNEL-NUMBER of 2
        #expect(throws: STUNError.self) { try STUNMessage(parsing: message(0x0016, [0, 3, 0, 0, 1, 2, 3, 4])) }   // family 3
        #expect(throws: STUNError.self) { try STUNMessage(parsing: message(0x0012, [0, 1, 0, 0, 1, 2])) }   // short address
        #expect(throws: STUNError.self) { try STUNMessage(parsing: message(0x0019, [17])) }
        #expect(throws: STUNError.self) { try STUNMessage(parsing: message(0x0014, [0xFF, 0xFE])) }   // REALM not UTF-8
        #expect(throws: STUNError.self) { try STUNMessage(parsing: message(0x0015, [UInt8](repeating: 0x61, count: 764))) }
        #expect((try? STUNMessage(parsing: message(0x0013, [])))?.data == [])
    }

    @Test func channelDataFraming() {
        let framed = TURN.channelData(channel: 0x4ABC, [9, 8, 7])
        #expect(framed == [0x4A, 0xBC, 0, 3, 9, 8, 7])
        #expect(TURN.parseChannelData(framed)! == (0x4ABC, [9, 8, 7]))
        #expect(TURN.parseChannelData(framed + [0])! == (0x4ABC, [9, 8, 7]))   // padding
        #expect(TURN.parseChannelData(Array(framed.dropLast())) == nil)
        #expect(TURN.parseChannelData([0x40, 0, 0]) == nil && TURN.parseChannelData([0x50, 0, 0, 0]) == nil)
        #expect(TURN.parseChannelData([0x40, 0, 0, 0])! == (0x4000, []))
        #expect(!STUNMessage.isSTUN(framed) && TURN.isChannelData(framed))
        let send = TURN.sendIndication(to: STUNAddress(ip: "10.0.0.2", port: 6000), [1, 2], transactionID: Self.id)
        #expect(send[0...1] == [0, 0x16] && (try? STUNMessage(parsing: send))?.data == [1, 2])
    }

    @Test func turnURIs() throws {
        #expect(try TURNServer.parseURI("turn:10.99.0.1:3478") == ("10.99.0.1", 3478))
        #expect(try TURNServer.parseURI("turn:turn.example.org") == ("turn.example.org", 3478))
        #expect(try TURNServer.parseURI("TURN:[fd00::1]:5349?transport=udp") == ("fd00::1", 5349))
        #expect(try TURNServer.parseURI("turn:[fd00::1]") == ("fd00::1", 3478))
        for bad in ["turns:a.example:5349", "turn:a?transport=tcp", "stun:a", "turn:", "turn:fd00::1", "turn:a:0",
                    "turn:a:70000", "turn:[fd00::1", "turn:[::1]x", "turn:a b:1"] {
            #expect(throws: TURNServer.URIError.self) { try TURNServer.parseURI(bad) }
        }
        // A name is not resolved by the agent: counted as a failed allocation, gathering completes.
        var options = ICEAgentOptions()
        options.turnServer = TURNServer(address: STUNAddress(ip: "turn.example.org", port: 3478), username: "u", password: "p")
        let agent = ICEAgent(role: .controlled, local: .random(), options: options)
        agent.gatherRelayed()
        agent.finishGathering()
        #expect(agent.stats.turnAllocationFailures == 1 && agent.isGatheringComplete && agent.nextDeadlineMicros == nil)
    }

    // MARK: Hostile servers

    /// An agent that has sent its first Allocate; returns it and the request.
    func allocating(seed: UInt64 = 1) throws -> (ICEAgent, STUNMessage) {
        var options = ICEAgentOptions()
        options.turnServer = TURNServer(address: Self.server, username: "test", password: "secret")
        let agent = ICEAgent(role: .controlled, local: .random(), options: options, random: seededRandom(seed))
        agent.addLocalHostCandidate(Self.host)
        agent.gatherRelayed()
        agent.finishGathering()
        let out = agent.poll(nowMicros: 0)
        #expect(out.count == 1 && out.first?.destination == Self.server)
        let request = try STUNMessage(parsing: try #require(out.first).datagram)
        #expect(request.method == STUNMessage.allocateMethod && request.requestedTransport == 17 && request.username == nil)
        return (agent, request)
    }

    func response(to request: STUNMessage, _ attributes: [STUNAttribute], cls: STUNMessage.Class = .successResponse,
                  key: [UInt8]? = nil) -> [UInt8] {
        STUNMessage(method: request.method, messageClass: cls, transactionID: request.transactionID, attributes: attributes)
            .serialized(integrityKey: key)
    }

    static let key = TURN.longTermKey(username: "test", realm: "flowrec", password: "secret")
    static let challenge: [STUNAttribute] = [.errorCode(code: 401, reason: "Unauthorized"), .realm("flowrec"), .nonce("n1")]

    /// The agent answered the challenge: returns the authenticated Allocate.
    func authenticated(_ agent: ICEAgent, _ request: STUNMessage, at now: Int64 = 10_000) throws -> STUNMessage {
        #expect(agent.receive(response(to: request, Self.challenge, cls: .errorResponse), from: Self.server, nowMicros: now) == .handled([]))
        let out = agent.poll(nowMicros: now)
        let retry = try STUNMessage(parsing: try #require(out.first).datagram)
        #expect(retry.username == "test" && retry.realm == "flowrec" && retry.nonce == "n1" && retry.hasMessageIntegrity)
        #expect(STUNMessage.verifyIntegrity(out[0].datagram, key: Self.key))
        return retry
    }

    @Test func successWithoutIntegrityOrRelayedAddressIsRefused() throws {
        let (agent, request) = try allocating()
        let retry = try authenticated(agent, request)
        let relay = STUNAddress(ip: "192.0.2.51", port: 50000)
        // No MESSAGE-INTEGRITY on a success to an authenticated request: dropped, still waiting.
        let bare = response(to: retry, [.xorRelayedAddress(relay), .lifetime(600)])
        if case .dropped = agent.receive(bare, from: Self.server, nowMicros: 20_000) {} else { Issue.record("accepted") }
        #expect(agent.stats.integrityFailures == 1 && agent.relayedCandidate == nil && !agent.gatheringComplete)
        // A wrong key: dropped as well.
        let forged = response(to: retry, [.xorRelayedAddress(relay)], key: Array("other".utf8))
        if case .dropped = agent.receive(forged, from: Self.server, nowMicros: 20_000) {} else { Issue.record("accepted") }
        // From another address: dropped.
        let good = response(to: retry, [.lifetime(600)], key: Self.key)
        if case .dropped = agent.receive(good, from: STUNAddress(ip: "192.0.2.50", port: 3479), nowMicros: 20_000) {} else {
            Issue.record("accepted from elsewhere")
        }
        // Authentic but without XOR-RELAYED-ADDRESS: the allocation fails, gathering completes.
        #expect(agent.receive(good, from: Self.server, nowMicros: 20_000) == .handled([]))
        #expect(agent.relayedCandidate == nil && agent.gatheringComplete && agent.stats.turnAllocationFailures == 1)
        #expect(agent.takeEvents().last == .gatheringComplete)
        // Late duplicates change nothing.
        _ = agent.receive(good, from: Self.server, nowMicros: 30_000)
        #expect(agent.stats.turnAllocationFailures == 1 && agent.nextDeadlineMicros == nil)
    }

    @Test func challengesAreBounded() throws {
        let (agent, first) = try allocating()
        var request = first
        var sent = 1
        for round in 0..<5 {
            let challenge: [STUNAttribute] = [.errorCode(code: round % 2 == 0 ? 401 : 438, reason: "again"), .realm("flowrec"),
                                              .nonce("nonce-\(round)")]
            _ = agent.receive(response(to: request, challenge, cls: .errorResponse), from: Self.server, nowMicros: Int64(round + 1) * 10_000)
            let out = agent.poll(nowMicros: Int64(round + 1) * 10_000)
            guard let next = out.first else { break }
            request = try STUNMessage(parsing: next.datagram)
            sent += 1
        }
        #expect(sent == 3 && agent.gatheringComplete && agent.stats.turnAllocationFailures == 1)
        // A 401 without a NONCE is no challenge: the Allocate fails at once.
        let (other, request2) = try allocating(seed: 2)
        _ = other.receive(response(to: request2, [.errorCode(code: 401, reason: "x"), .realm("r")], cls: .errorResponse),
                          from: Self.server, nowMicros: 10_000)
        #expect(other.gatheringComplete && other.poll(nowMicros: 10_000).isEmpty && other.stats.turnAllocationFailures == 1)
    }

    @Test func zeroLifetimeDoesNotSpin() throws {
        let (agent, request) = try allocating()
        let retry = try authenticated(agent, request)
        let relay = STUNAddress(ip: "192.0.2.51", port: 50000)
        _ = agent.receive(response(to: retry, [.xorRelayedAddress(relay), .lifetime(0)], key: Self.key), from: Self.server, nowMicros: 20_000)
        #expect(agent.relayedCandidate?.address == relay && agent.relayedCandidate?.related == Self.host)
        #expect(agent.nextDeadlineMicros == 1_020_000)   // refreshed a second later, not at once
        let refresh = try STUNMessage(parsing: try #require(agent.poll(nowMicros: 1_020_000).first).datagram)
        #expect(refresh.method == STUNMessage.refreshMethod && refresh.lifetime == 600)
        // A relayed address equal to a host candidate is refused.
        let (other, request2) = try allocating(seed: 2)
        let retry2 = try authenticated(other, request2)
        _ = other.receive(response(to: retry2, [.xorRelayedAddress(Self.host)], key: Self.key), from: Self.server, nowMicros: 20_000)
        #expect(other.relayedCandidate == nil && other.stats.turnAllocationFailures == 1)
    }

    @Test func strayRelayTrafficIsDropped() throws {
        let (agent, request) = try allocating()
        // ChannelData and Data indications before any allocation.
        if case .dropped = agent.receive([0x40, 0, 0, 1, 9], from: Self.server, nowMicros: 1) {} else { Issue.record("taken") }
        let retry = try authenticated(agent, request)
        _ = agent.receive(response(to: retry, [.xorRelayedAddress(STUNAddress(ip: "192.0.2.51", port: 50000))], key: Self.key),
                          from: Self.server, nowMicros: 20_000)
        #expect(agent.relayedCandidate != nil)
        let peer = STUNAddress(ip: "10.0.0.2", port: 6000)
        let cases: [[UInt8]] = [
            [0x40, 0x00, 0, 1, 9],                 // a channel we never bound
            [0x41, 0x00, 0, 9, 1, 2],              // length past the end
            STUNMessage(method: STUNMessage.dataMethod, messageClass: .indication, transactionID: Self.id,
                        attributes: [.xorPeerAddress(peer)]).serialized(),   // no DATA
            STUNMessage(method: STUNMessage.dataMethod, messageClass: .indication, transactionID: Self.id,
                        attributes: [.data([1])]).serialized(),              // no peer
            STUNMessage(method: STUNMessage.sendMethod, messageClass: .indication, transactionID: Self.id,
                        attributes: [.xorPeerAddress(peer), .data([1])]).serialized(),   // a Send indication to us
            STUNMessage(method: STUNMessage.allocateMethod, messageClass: .request, transactionID: Self.id).serialized(),
            STUNMessage(method: STUNMessage.refreshMethod, messageClass: .successResponse, transactionID: Self.id).serialized(),
        ]
        for bytes in cases {
            if case .dropped = agent.receive(bytes, from: Self.server, nowMicros: 30_000) {} else { Issue.record("taken: \(bytes)") }
        }
        // Application data in a Data indication from a peer that never authenticated: dropped too.
        let data = STUNMessage(method: STUNMessage.dataMethod, messageClass: .indication, transactionID: Self.id,
                               attributes: [.xorPeerAddress(peer), .data([0x16, 1])]).serialized()
        if case .dropped = agent.receive(data, from: Self.server, nowMicros: 30_000) {} else { Issue.record("taken") }
        #expect(agent.stats.applicationDataDropped == 1 && agent.stats.relayedDropped >= 4)
    }

    /// Seeded mutations of every kind of TURN response and of relayed traffic, at an agent in every
    /// phase (a new agent whenever one's allocation failed): nothing crashes, and poll always
    /// leaves the next deadline in the future.
    @Test(arguments: 0..<6)
    func hostileTURNTrafficNeverCrashes(seed: UInt64) throws {
        var generator = SplitMix64(seed: 1000 + seed)
        let peer = STUNAddress(ip: "10.0.0.2", port: 6000)
        let relay = STUNAddress(ip: "192.0.2.51", port: 50000)
        func fresh(_ seed: UInt64) throws -> (ICEAgent, STUNMessage) {
            let (agent, request) = try allocating(seed: seed)
            agent.setRemoteCredentials(ICECredentials(ufrag: "peer", pwd: "peer-password-0123456789"))
            agent.addRemoteCandidate(ICECandidate(foundation: "1", priority: 100, address: peer, type: .host))
            return (agent, request)
        }
        var (agent, request) = try fresh(seed)
        var now: Int64 = 1_000
        var pending = [request]
        var allocatedRounds = 0, agents = 1
        for round in 0..<3000 {
            if agent.relayedCandidate != nil { allocatedRounds += 1 }
            if round < 2500, agent.turn?.phase == .failed || agent.turn?.phase == .released {
                _ = agent.close()
                (agent, request) = try fresh(seed &* 10_000 &+ UInt64(round))
                pending = [request]
                now = 1_000
                agents += 1
            }
            now += Int64(generator.next() % 400_000)
            for transmit in agent.poll(nowMicros: now) where transmit.destination == Self.server {
                if let message = try? STUNMessage(parsing: transmit.datagram), message.messageClass == .request { pending.append(message) }
            }
            if let deadline = agent.nextDeadlineMicros { #expect(deadline > now, "round \(round)") }
            pending = Array(pending.suffix(8))
            let target = pending.isEmpty ? request : pending[Int(generator.next() % UInt64(pending.count))]
            let key: [UInt8]? = generator.next() % 4 == 0 ? nil : Self.key
            let attributes: [STUNAttribute]
            var cls: STUNMessage.Class = .successResponse
            switch generator.next() % 8 {
            case 0: attributes = Self.challenge; cls = .errorResponse
            case 1: attributes = [.errorCode(code: 438, reason: "stale"), .nonce("n\(round % 3)")]; cls = .errorResponse
            case 2: attributes = [.errorCode(code: [400, 403, 437, 486, 508][Int(generator.next() % 5)], reason: "no")]; cls = .errorResponse
            case 3: attributes = [.xorRelayedAddress(relay), .xorMappedAddress(Self.host), .lifetime(UInt32(truncatingIfNeeded: generator.next()))]
            case 4: attributes = [.lifetime(UInt32(generator.next() % 5))]
            default: attributes = [.xorRelayedAddress(STUNAddress(ip: "fd00::\(round % 5)", port: UInt16(round % 9)))]
            }
            var bytes: [UInt8]
            switch generator.next() % 6 {
            case 0: bytes = TURN.channelData(channel: 0x4000 + UInt16(generator.next() % 3), (0..<Int(generator.next() % 40)).map { _ in
                        UInt8(truncatingIfNeeded: generator.next()) })
            case 1: bytes = STUNMessage(method: STUNMessage.dataMethod, messageClass: .indication, transactionID: Self.id,
                                        attributes: [.xorPeerAddress(peer), .data((0..<Int(generator.next() % 60)).map { _ in
                                            UInt8(truncatingIfNeeded: generator.next()) })]).serialized()
            default:
                bytes = STUNMessage(method: generator.next() % 10 == 0 ? STUNMessage.bindingMethod : target.method,
                                    messageClass: cls, transactionID: target.transactionID, attributes: attributes)
                    .serialized(integrityKey: key, fingerprint: generator.next() % 2 == 0)
            }
            if generator.next() % 3 == 0, !bytes.isEmpty {
                switch generator.next() % 3 {
                case 0: bytes[Int(generator.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: generator.next() | 1)
                case 1: bytes.removeLast(Int(generator.next() % UInt64(bytes.count)))
                default: bytes += (0..<Int(generator.next() % 9)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                }
            }
            _ = agent.receive(bytes, from: Self.server, nowMicros: now)
            _ = agent.takeEvents()
            if round == 2500 { _ = agent.close() }
        }
        #expect(agent.state == .closed && allocatedRounds > 100, "\(agents) agents")
        #expect(agent.checklist.pairs.count <= 2)
    }
}
