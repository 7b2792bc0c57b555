import SeededRandom
import Testing
@testable import ICE

/// The controlled agent (the recorder) against hand-made checks, as aioice and Chrome send them.
@Suite struct ICEAgentInboundTests {
    static let local = ICECredentials(ufrag: "rec1", pwd: "recorder-password-012345")
    static let remote = ICECredentials(ufrag: "aio1", pwd: "aioice-password-01234567")
    static let us = STUNAddress(ip: "10.0.0.2", port: 6000)
    static let peer = STUNAddress(ip: "10.0.0.1", port: 5000)

    func recorder(remoteCredentials: Bool = true) -> ICEAgent {
        let agent = ICEAgent(role: .controlled, local: Self.local, tieBreaker: 5, random: seededRandom(9))
        agent.addLocalHostCandidate(Self.us)
        if remoteCredentials { agent.setRemoteCredentials(Self.remote) }
        return agent
    }

    /// A check from the peer, as a controlling agent, signed with `key` (our password by default).
    func check(username: String = "rec1:aio1", key: String = Self.local.pwd, priority: UInt32? = 1_862_270_975,
               controlling: Bool = true, tieBreaker: UInt64 = 7, useCandidate: Bool = false) -> (STUNMessage, [UInt8]) {
        var message = STUNMessage.bindingRequest(username: username, priority: priority ?? 0, controlling: controlling,
                                                 tieBreaker: tieBreaker, useCandidate: useCandidate)
        if priority == nil { message.attributes.removeAll { $0 == .priority(0) } }
        return (message, message.serialized(integrityKey: Array(key.utf8)))
    }

    func replies(_ result: ICEReceiveResult) -> [STUNMessage] {
        guard case .handled(let transmits) = result else { return [] }
        return transmits.compactMap { try? STUNMessage(parsing: $0.datagram) }
    }

    /// aioice nominates in its first check: the recorder answers, checks back at once, and selects
    /// the pair when its own check succeeds.
    @Test func useCandidateInTheFirstCheckSelectsOnOurSuccess() throws {
        let agent = recorder()
        #expect(agent.receive([0x16, 0xFE, 0xFD], from: Self.peer, nowMicros: 0) != .handled([]))   // not yet authenticated
        let (request, bytes) = check(useCandidate: true)
        let result = agent.receive(bytes, from: Self.peer, nowMicros: 1_000)
        guard case .handled(let transmits) = result, let reply = transmits.first else {
            Issue.record("no answer: \(result)")
            return
        }
        #expect(transmits.count == 1 && reply.destination == Self.peer)
        let success = try STUNMessage(parsing: reply.datagram)
        #expect(success.messageClass == .successResponse && success.transactionID == request.transactionID)
        #expect(success.xorMappedAddress == Self.peer)
        #expect(STUNMessage.verifyIntegrity(reply.datagram, key: Array(Self.local.pwd.utf8)))
        #expect(STUNMessage.verifyFingerprint(reply.datagram))
        #expect(agent.remoteCandidates.first?.type == .peerReflexive && agent.remoteCandidates.first?.priority == 1_862_270_975)
        // Data from the authenticated peer is accepted before any pair is selected (DTLS may start).
        #expect(agent.receive([0x16, 0xFE, 0xFD], from: Self.peer, nowMicros: 1_500) == .applicationData([0x16, 0xFE, 0xFD], from: Self.peer))
        #expect(agent.selectedPair == nil)

        // The triggered check is due now.
        #expect(agent.nextDeadlineMicros! <= 1_500)
        let sent = agent.poll(nowMicros: 2_000)
        #expect(sent.count == 1 && sent.first?.destination == Self.peer)
        let ours = try STUNMessage(parsing: sent[0].datagram)
        #expect(ours.username == "aio1:rec1" && ours.iceControlled == 5 && !ours.useCandidate)
        #expect(STUNMessage.verifyIntegrity(sent[0].datagram, key: Array(Self.remote.pwd.utf8)))
        #expect(ours.priority == ICECandidate.priority(type: .peerReflexive))

        let answer = STUNMessage.bindingSuccess(for: ours, mapped: Self.us).serialized(integrityKey: Array(Self.remote.pwd.utf8))
        #expect(agent.receive(answer, from: Self.peer, nowMicros: 3_000) == .handled([]))
        #expect(agent.selectedPair?.remote.address == Self.peer && agent.selectedPair?.local.address == Self.us)
        #expect(agent.state == .connected && agent.remoteAddress == Self.peer)
        #expect(agent.takeEvents().suffix(2) == [
            .selectedPair(local: agent.selectedPair!.local, remote: agent.selectedPair!.remote), .stateChanged(.connected),
        ])
        #expect(agent.send([1, 2]) == ICETransmit(datagram: [1, 2], destination: Self.peer))
        // A retransmitted USE-CANDIDATE check on the selected pair changes nothing.
        _ = agent.receive(check(useCandidate: true).1, from: Self.peer, nowMicros: 4_000)
        #expect(agent.takeEvents().isEmpty && agent.poll(nowMicros: 4_000).isEmpty)
    }

    /// USE-CANDIDATE on a pair already valid selects it at once.
    @Test func useCandidateOnAValidPairSelectsAtOnce() throws {
        let agent = recorder()
        agent.addRemoteCandidate(ICECandidate(foundation: "1", priority: 2_130_706_431, address: Self.peer, type: .host))
        let ours = try STUNMessage(parsing: agent.poll(nowMicros: 0)[0].datagram)
        let answer = STUNMessage.bindingSuccess(for: ours, mapped: Self.us).serialized(integrityKey: Array(Self.remote.pwd.utf8))
        _ = agent.receive(answer, from: Self.peer, nowMicros: 1_000)
        #expect(agent.selectedPair == nil && agent.state == .checking)
        _ = agent.receive(check(useCandidate: true).1, from: Self.peer, nowMicros: 2_000)
        #expect(agent.selectedPair?.remote.type == .host && agent.state == .connected)
    }

    @Test func checksBeforeRemoteCredentialsAreAnsweredAndHeld() throws {
        let agent = recorder(remoteCredentials: false)
        let answer = replies(agent.receive(check().1, from: Self.peer, nowMicros: 0))
        #expect(answer.first?.messageClass == .successResponse)
        #expect(agent.nextDeadlineMicros == nil && agent.poll(nowMicros: 0).isEmpty)
        agent.setRemoteCredentials(Self.remote)
        #expect(agent.poll(nowMicros: 1_000).map(\.destination) == [Self.peer])
    }

    @Test func badRequestsAreRejected() throws {
        let agent = recorder()
        func answer(_ bytes: [UInt8]) -> STUNMessage? { replies(agent.receive(bytes, from: Self.peer, nowMicros: 0)).first }

        #expect(answer(check(key: "wrong-password-0123456789").1)?.errorCode?.code == 401)
        #expect(answer(check(username: "other:aio1").1)?.errorCode?.code == 401)
        #expect(agent.stats.integrityFailures == 2)
        #expect(answer(check(priority: nil).1)?.errorCode?.code == 400)
        let unsigned = check().0.serialized()
        #expect(answer(unsigned)?.errorCode?.code == 400)
        #expect(agent.stats.badRequests == 2)
        var badFingerprint = check().1
        badFingerprint[badFingerprint.count - 1] ^= 1
        #expect(agent.receive(badFingerprint, from: Self.peer, nowMicros: 0) == .dropped(reason: "Binding request without a valid FINGERPRINT"))
        #expect(agent.stats.integrityFailures == 3 && agent.stats.checksReceived == 0)
        #expect(agent.remoteCandidates.isEmpty)
        // None of that authenticated the peer.
        #expect(agent.receive([0x80, 0], from: Self.peer, nowMicros: 0) != .applicationData([0x80, 0], from: Self.peer))
        #expect(agent.stats.applicationDataDropped == 1)
        // Responses to nothing of ours, and unsigned success responses, are dropped.
        let stray = STUNMessage.bindingSuccess(for: check().0, mapped: Self.us).serialized(integrityKey: Array(Self.remote.pwd.utf8))
        #expect(agent.receive(stray, from: Self.peer, nowMicros: 0) == .dropped(reason: "a STUN response to no request of ours"))
        agent.addRemoteCandidate(ICECandidate(foundation: "1", priority: 1, address: Self.peer, type: .host))
        let ours = try STUNMessage(parsing: agent.poll(nowMicros: 0)[0].datagram)
        let forged = STUNMessage.bindingSuccess(for: ours, mapped: Self.us).serialized(integrityKey: Array("guess".utf8))
        #expect(agent.receive(forged, from: Self.peer, nowMicros: 0) == .dropped(reason: "STUN response failing MESSAGE-INTEGRITY"))
        let elsewhere = STUNMessage.bindingSuccess(for: ours, mapped: Self.us).serialized(integrityKey: Array(Self.remote.pwd.utf8))
        #expect(agent.receive(elsewhere, from: STUNAddress(ip: "10.9.9.9", port: 1), nowMicros: 0) != .handled([]))
        #expect(agent.checklist.pairs.first?.state == .inProgress)
    }

    /// We are controlled with the higher tie-breaker and the peer claims controlled too: we
    /// switch to controlling. With the lower one we answer 487.
    @Test func roleConflictInRequests() throws {
        let agent = recorder()   // tie-breaker 5
        let conflict = replies(agent.receive(check(controlling: false, tieBreaker: 9).1, from: Self.peer, nowMicros: 0))
        #expect(conflict.first?.errorCode?.code == 487 && agent.role == .controlled)
        let switched = replies(agent.receive(check(controlling: false, tieBreaker: 3).1, from: Self.peer, nowMicros: 0))
        #expect(switched.first?.messageClass == .successResponse && agent.role == .controlling)
        #expect(agent.stats.roleConflicts == 2)
        // Now controlling with 5: a controlling peer with 4 gets 487, one with 6 makes us yield.
        #expect(replies(agent.receive(check(tieBreaker: 4).1, from: Self.peer, nowMicros: 0)).first?.errorCode?.code == 487)
        _ = agent.receive(check(tieBreaker: 6).1, from: Self.peer, nowMicros: 0)
        #expect(agent.role == .controlled)
    }

    /// A 487 answer to our check: switch role and check again.
    @Test func roleConflictInResponses() throws {
        let agent = recorder()
        agent.addRemoteCandidate(ICECandidate(foundation: "1", priority: 1, address: Self.peer, type: .host))
        let ours = try STUNMessage(parsing: agent.poll(nowMicros: 0)[0].datagram)
        let conflict = STUNMessage.bindingError(for: ours, code: 487, reason: "Role Conflict")
        #expect(agent.receive(conflict.serialized(), from: Self.peer, nowMicros: 1_000) != .handled([]))   // unsigned: ignored
        #expect(agent.role == .controlled)
        _ = agent.receive(conflict.serialized(integrityKey: Array(Self.remote.pwd.utf8)), from: Self.peer, nowMicros: 1_000)
        #expect(agent.role == .controlling && agent.stats.roleConflicts == 1)
        let retry = try STUNMessage(parsing: agent.poll(nowMicros: 60_000)[0].datagram)
        #expect(retry.iceControlling == 5 && retry.transactionID != ours.transactionID)
    }

    /// 5,000 random and mutated datagrams: nothing crashes, nothing unauthenticated gets through.
    @Test func fuzzedDatagramsNeverCrash() throws {
        var generator = SplitMix64(seed: 0xF00D)
        let agent = recorder()
        agent.addRemoteCandidate(ICECandidate(foundation: "1", priority: 1, address: Self.peer, type: .host))
        var outgoing: [STUNMessage] = []
        var now: Int64 = 0
        let seeds: [[UInt8]] = [
            check(useCandidate: true).1, check(controlling: false).1, check(key: "nope").1,
            STUNMessage(messageClass: .indication, transactionID: [1]).serialized(),
            RFC5769.request, RFC5769.ipv4Response, RFC5769.ipv6Response,
        ]
        var accepted = 0
        for round in 0..<5_000 {
            now += Int64(generator.next() % 20_000)
            for transmit in agent.poll(nowMicros: now) {
                if let message = try? STUNMessage(parsing: transmit.datagram) { outgoing.append(message) }
            }
            var bytes: [UInt8]
            switch generator.next() % 4 {
            case 0:
                bytes = (0..<Int(generator.next() % 120)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                if bytes.count >= 8, generator.next() % 2 == 0 {
                    bytes[0] &= 0x01
                    bytes.replaceSubrange(4..<8, with: [0x21, 0x12, 0xA4, 0x42])
                }
            case 1 where !outgoing.isEmpty:
                // A response to one of our requests, sometimes signed correctly.
                let request = outgoing[Int(generator.next() % UInt64(outgoing.count))]
                let key = generator.next() % 2 == 0 ? Array(Self.remote.pwd.utf8) : []
                bytes = (generator.next() % 3 == 0 ? STUNMessage.bindingError(for: request, code: 487, reason: "x")
                         : STUNMessage.bindingSuccess(for: request, mapped: Self.us)).serialized(integrityKey: key)
            default:
                bytes = seeds[Int(generator.next() % UInt64(seeds.count))]
            }
            // Mutate: flip bytes, truncate, or extend.
            for _ in 0..<Int(generator.next() % 4) where !bytes.isEmpty {
                switch generator.next() % 3 {
                case 0: bytes[Int(generator.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: generator.next() | 1)
                case 1: bytes.removeLast(Int(generator.next() % UInt64(bytes.count)))
                default: bytes += [UInt8](repeating: UInt8(truncatingIfNeeded: generator.next()), count: Int(generator.next() % 9))
                }
            }
            let from = round % 5 == 0 ? STUNAddress(ip: "fd00::\(round % 7)", port: UInt16(round % 3)) : Self.peer
            switch agent.receive(bytes, from: from, nowMicros: now) {
            case .applicationData(_, let source): #expect(source == Self.peer || agent.authenticatedRemotes.contains(ICEPath(remote: source, relayed: false)))
            case .handled: accepted += 1
            case .dropped: break
            }
            _ = agent.takeEvents()
        }
        #expect(accepted > 100 && agent.stats.integrityFailures > 0 && agent.stats.malformed > 0)
        #expect(agent.checklist.pairs.count <= agent.options.maxPairs)
    }
}
