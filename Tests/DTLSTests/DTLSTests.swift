import Testing
@testable import DTLS
import SRTP
import RTP

/// Moves datagrams between two endpoints until neither has anything left to say.
/// Returns how many `connected` events each side emitted.
@discardableResult
func pump(_ client: DTLSEndpoint, _ server: DTLSEndpoint, first: [[UInt8]], now: Int64 = 0) -> (client: Int, server: Int) {
    var toServer = first, toClient: [[UInt8]] = []
    var connected = (client: 0, server: 0)
    for _ in 0..<20 where !toServer.isEmpty || !toClient.isEmpty {
        for d in toServer {
            let e = server.receive(d, nowMillis: now)
            if e.connected != nil { connected.server += 1 }
            toClient += e.outgoing
        }
        toServer = []
        for d in toClient {
            let e = client.receive(d, nowMillis: now)
            if e.connected != nil { connected.client += 1 }
            toServer += e.outgoing
        }
        toClient = []
    }
    return connected
}

func keys(_ endpoint: DTLSEndpoint) -> SRTPKeyingMaterial? {
    if case .connected(let m) = endpoint.state { return m }
    return nil
}

func isFailed(_ endpoint: DTLSEndpoint) -> Bool {
    if case .failed = endpoint.state { return true }
    return false
}

func connectedPair(clientOptions: DTLSEndpoint.Options = .init(), serverOptions: DTLSEndpoint.Options = .init()) throws -> (DTLSEndpoint, DTLSEndpoint) {
    let cc = try DTLSCertificate.generate(), sc = try DTLSCertificate.generate()
    let client = try DTLSEndpoint(role: .client, certificate: cc, remoteFingerprint: sc.fingerprintSHA256, options: clientOptions)
    let server = try DTLSEndpoint(role: .server, certificate: sc, remoteFingerprint: cc.fingerprintSHA256, options: serverOptions)
    let counts = pump(client, server, first: client.start(nowMillis: 0))
    #expect(counts.client == 1 && counts.server == 1)
    return (client, server)
}

@Suite struct CertificateTests {
    @Test func fingerprintIsUpperCaseColonHex() throws {
        let a = try DTLSCertificate.generate(), b = try DTLSCertificate.generate()
        let parts = a.fingerprintSHA256.split(separator: ":")
        #expect(parts.count == 32)
        #expect(parts.allSatisfy { $0.count == 2 && $0.allSatisfy { "0123456789ABCDEF".contains($0) } })
        #expect(a.fingerprintSHA256 != b.fingerprintSHA256)
    }

    @Test func fingerprintNormalization() {
        let fp = Array(repeating: "ab", count: 32).joined(separator: ":")
        #expect(normalizeFingerprint(fp) == fp.uppercased())
        #expect(normalizeFingerprint("sha-256 " + fp) == fp.uppercased())
        #expect(normalizeFingerprint("AB:CD") == nil)
        #expect(normalizeFingerprint(fp + ":zz") == nil)
    }

    @Test func roleFromSetup() {
        #expect(DTLSRole(localSetup: "active") == .client)
        #expect(DTLSRole(localSetup: "PASSIVE") == .server)
        #expect(DTLSRole(localSetup: "actpass") == nil)
    }

    @Test func badRemoteFingerprintIsRejectedAtInit() throws {
        let c = try DTLSCertificate.generate()
        #expect(throws: DTLSError.self) { try DTLSEndpoint(role: .client, certificate: c, remoteFingerprint: "nonsense") }
    }
}

@Suite struct HandshakeTests {
    @Test func defaultHandshakePrefersGCM() throws {
        let (client, server) = try connectedPair()
        let c = try #require(keys(client)), s = try #require(keys(server))
        #expect(c.profile == .aeadAes128Gcm && s.profile == .aeadAes128Gcm)
        #expect(c.localKey == s.remoteKey && c.localSalt == s.remoteSalt)
        #expect(c.remoteKey == s.localKey && c.remoteSalt == s.localSalt)
        #expect(c.localKey.count == 16 && c.localSalt.count == 12)
        #expect(c.localKey != c.remoteKey)
        #expect(c.localKey.contains { $0 != 0 })
        #expect(client.peerFingerprint == server.certificate.fingerprintSHA256)
        #expect(server.peerFingerprint == client.certificate.fingerprintSHA256)
        #expect(client.nextTimeoutMillis == nil)
    }

    /// RFC 5764 §4.2: client_write_key | server_write_key | client_write_salt | server_write_salt.
    @Test func keyingMaterialLayout() throws {
        let cm = Array(UInt8(0)..<60), gcm = Array(UInt8(100)..<156)
        let client = try #require(SRTPKeyingMaterial(exported: cm, profile: .aes128CmSha1_80, role: .client))
        #expect(client.localKey == Array(0..<16) && client.remoteKey == Array(16..<32))
        #expect(client.localSalt == Array(32..<46) && client.remoteSalt == Array(46..<60))
        let server = try #require(SRTPKeyingMaterial(exported: gcm, profile: .aeadAes128Gcm, role: .server))
        #expect(server.remoteKey == Array(100..<116) && server.localKey == Array(116..<132))
        #expect(server.remoteSalt == Array(132..<144) && server.localSalt == Array(144..<156))
        #expect(SRTPKeyingMaterial(exported: cm, profile: .aeadAes128Gcm, role: .client) == nil)

        // And the endpoints split OpenSSL's exporter output that way.
        let (a, b) = try connectedPair(clientOptions: .init(srtpProfiles: [.aes128CmSha1_80]))
        let raw = try #require(a.exportedKeyingMaterial)
        #expect(raw == b.exportedKeyingMaterial)
        #expect(keys(a) == SRTPKeyingMaterial(exported: raw, profile: .aes128CmSha1_80, role: .client))
        #expect(keys(a)?.localSalt == Array(raw[32..<46]))
        #expect(keys(b)?.localKey == Array(raw[16..<32]))
    }

    @Test(arguments: [(DTLSEndpoint.Options(srtpProfiles: [.aes128CmSha1_80]), DTLSEndpoint.Options()),
                      (DTLSEndpoint.Options(), DTLSEndpoint.Options(srtpProfiles: [.aes128CmSha1_80]))])
    func forcedCMProfile(options: (DTLSEndpoint.Options, DTLSEndpoint.Options)) throws {
        let (client, server) = try connectedPair(clientOptions: options.0, serverOptions: options.1)
        let c = try #require(keys(client)), s = try #require(keys(server))
        #expect(c.profile == .aes128CmSha1_80 && s.profile == .aes128CmSha1_80)
        #expect(c.localKey == s.remoteKey && c.localSalt == s.remoteSalt && c.remoteKey == s.localKey)
        #expect(c.localSalt.count == 14)
    }

    @Test func noCommonProfileNeverConnects() throws {
        let (cc, sc) = try (DTLSCertificate.generate(), DTLSCertificate.generate())
        let a = try DTLSEndpoint(role: .client, certificate: cc, remoteFingerprint: sc.fingerprintSHA256,
                                 options: .init(srtpProfiles: [.aes128CmSha1_80]))
        let b = try DTLSEndpoint(role: .server, certificate: sc, remoteFingerprint: cc.fingerprintSHA256,
                                 options: .init(srtpProfiles: [.aeadAes128Gcm]))
        let counts = pump(a, b, first: a.start(nowMillis: 0))
        #expect(counts.client == 0)
        #expect(keys(a) == nil)
        #expect(isFailed(a))
    }

    @Test(arguments: [DTLSRole.client, .server])
    func wrongFingerprintFails(wrongSide: DTLSRole) throws {
        let cc = try DTLSCertificate.generate(), sc = try DTLSCertificate.generate(), other = try DTLSCertificate.generate()
        let client = try DTLSEndpoint(role: .client, certificate: cc,
                                      remoteFingerprint: wrongSide == .client ? other.fingerprintSHA256 : sc.fingerprintSHA256)
        let server = try DTLSEndpoint(role: .server, certificate: sc,
                                      remoteFingerprint: wrongSide == .server ? other.fingerprintSHA256 : cc.fingerprintSHA256)
        let counts = pump(client, server, first: client.start(nowMillis: 0))
        let wrong = wrongSide == .client ? client : server
        #expect(isFailed(wrong))
        if case .failed(let reason) = wrong.state { #expect(reason.contains("fingerprint")) }
        // The alert reaches the other side too: nobody ends up with keys.
        #expect(keys(client) == nil && keys(server) == nil)
        #expect(counts.client == 0 && counts.server == 0)
    }

    @Test func droppedFirstFlightIsRetransmitted() async throws {
        let cc = try DTLSCertificate.generate(), sc = try DTLSCertificate.generate()
        let options = DTLSEndpoint.Options(initialRetransmitMillis: 200)
        let client = try DTLSEndpoint(role: .client, certificate: cc, remoteFingerprint: sc.fingerprintSHA256, options: options)
        let server = try DTLSEndpoint(role: .server, certificate: sc, remoteFingerprint: cc.fingerprintSHA256, options: options)
        #expect(client.nextTimeoutMillis == nil)
        let lost = client.start(nowMillis: 10_000)
        #expect(!lost.isEmpty)
        let deadline = try #require(client.nextTimeoutMillis)
        #expect(deadline > 10_000 && deadline <= 10_200)
        #expect(client.handleTimeout(nowMillis: 10_001).isEmpty)  // too early: nothing to resend
        try await Task.sleep(for: .milliseconds(260))
        let resent = client.handleTimeout(nowMillis: deadline)
        #expect(!resent.isEmpty)
        #expect(resent.first?.first == 22)  // a handshake record (the ClientHello again)
        let next = try #require(client.nextTimeoutMillis)
        #expect(next > deadline + 200)  // backed off: 400 ms
        let counts = pump(client, server, first: resent, now: deadline)
        #expect(counts.client == 1 && counts.server == 1)
        #expect(keys(client) != nil && keys(client)?.localKey == keys(server)?.remoteKey)
    }

    /// The server's last flight (ChangeCipherSpec + Finished) is lost: the server is connected, the client
    /// retransmits its flight on timeout, and the connected server answers it with its last flight again.
    @Test func lostFinalServerFlightIsRecovered() async throws {
        let cc = try DTLSCertificate.generate(), sc = try DTLSCertificate.generate()
        let options = DTLSEndpoint.Options(initialRetransmitMillis: 100)
        let client = try DTLSEndpoint(role: .client, certificate: cc, remoteFingerprint: sc.fingerprintSHA256, options: options)
        let server = try DTLSEndpoint(role: .server, certificate: sc, remoteFingerprint: cc.fingerprintSHA256, options: options)
        var toClient: [[UInt8]] = []
        for d in client.start(nowMillis: 0) { toClient += server.receive(d, nowMillis: 0).outgoing }  // flight 4
        var toServer: [[UInt8]] = []
        for d in toClient { toServer += client.receive(d, nowMillis: 0).outgoing }                      // flight 5
        var serverConnected = 0
        var lastFlight: [[UInt8]] = []
        for d in toServer {
            let e = server.receive(d, nowMillis: 0)
            if e.connected != nil { serverConnected += 1 }
            lastFlight += e.outgoing
        }
        #expect(serverConnected == 1 && !lastFlight.isEmpty)
        #expect(keys(client) == nil)  // flight 6 dropped
        let deadline = try #require(client.nextTimeoutMillis)
        try await Task.sleep(for: .milliseconds(150))
        let resent = client.handleTimeout(nowMillis: deadline)
        #expect(!resent.isEmpty)
        var again: [[UInt8]] = []
        for d in resent {
            let e = server.receive(d, nowMillis: deadline)
            #expect(e.connected == nil && e.failure == nil)  // no second `connected`
            again += e.outgoing
        }
        #expect(!again.isEmpty)
        var clientConnected = 0
        for d in again where client.receive(d, nowMillis: deadline).connected != nil { clientConnected += 1 }
        #expect(clientConnected == 1)
        #expect(keys(client)?.localKey == keys(server)?.remoteKey)
        #expect(client.nextTimeoutMillis == nil)
    }

    @Test func smallMTUFragmentsTheHandshake() throws {
        let options = DTLSEndpoint.Options(mtu: 300)
        let cc = try DTLSCertificate.generate(), sc = try DTLSCertificate.generate()
        let client = try DTLSEndpoint(role: .client, certificate: cc, remoteFingerprint: sc.fingerprintSHA256, options: options)
        let server = try DTLSEndpoint(role: .server, certificate: sc, remoteFingerprint: cc.fingerprintSHA256, options: options)
        var toServer = client.start(nowMillis: 0), toClient: [[UInt8]] = []
        var largest = toServer.map(\.count).max() ?? 0, count = toServer.count
        for _ in 0..<10 {
            for d in toServer { toClient += server.receive(d, nowMillis: 0).outgoing }
            toServer = []
            for d in toClient { toServer += client.receive(d, nowMillis: 0).outgoing }
            largest = max(largest, (toClient + toServer).map(\.count).max() ?? 0)
            count += toClient.count + toServer.count
            toClient = []
        }
        #expect(keys(client) != nil && keys(server) != nil)
        #expect(largest <= 300)
        #expect(count > 5)  // the certificate flights had to be split
    }

    @Test func garbageDoesNotCrashAndNonDTLSIsIgnored() throws {
        let cc = try DTLSCertificate.generate(), sc = try DTLSCertificate.generate()
        let client = try DTLSEndpoint(role: .client, certificate: cc, remoteFingerprint: sc.fingerprintSHA256)
        let server = try DTLSEndpoint(role: .server, certificate: sc, remoteFingerprint: cc.fingerprintSHA256)
        func random(_ n: Int, first: UInt8?) -> [UInt8] {
            var b = (0..<n).map { _ in UInt8.random(in: 0...255) }
            if let first, !b.isEmpty { b[0] = first }
            return b
        }
        // RTP-looking and empty datagrams: ignored, the handshake still completes.
        _ = server.receive([], nowMillis: 0)
        for n in [1, 5, 12, 13, 100, 1500] { _ = server.receive(random(n, first: 0x80), nowMillis: 0) }
        let hello = client.start(nowMillis: 0)
        for n in [1, 13, 60, 300] { _ = client.receive(random(n, first: 0x90), nowMillis: 0) }
        let counts = pump(client, server, first: hello)
        #expect(counts.client == 1 && counts.server == 1)
        // Connected endpoints drop forged records (bad MAC) and stay connected.
        for n in [13, 40, 200] {
            var forged = random(n, first: 23)
            forged[1] = 0xFE; forged[2] = 0xFD
            let e = server.receive(forged, nowMillis: 0)
            #expect(e.failure == nil)
        }
        #expect(keys(server) != nil)

        // Record-shaped garbage into fresh endpoints: whatever happens, no crash and no keys.
        for _ in 0..<200 {
            let fresh = try DTLSEndpoint(role: .server, certificate: sc, remoteFingerprint: cc.fingerprintSHA256)
            var g = random(Int.random(in: 14...400), first: UInt8.random(in: 20...25))
            g[1] = 0xFE; g[2] = 0xFF; g[13] = 1  // DTLS 1.0 record, ClientHello type
            _ = fresh.receive(g, nowMillis: 0)
            _ = fresh.handleTimeout(nowMillis: 0)
            #expect(keys(fresh) == nil)
        }
    }

    @Test func applicationDataAndClose() throws {
        let (client, server) = try connectedPair()
        let datagrams = client.send([1, 2, 3, 4])
        #expect(datagrams.count == 1)
        let e = server.receive(datagrams[0], nowMillis: 0)
        #expect(e.applicationData == [[1, 2, 3, 4]])
        let bye = client.close()
        #expect(!bye.isEmpty)
        let closed = server.receive(bye[0], nowMillis: 0)
        #expect(closed.closed)
        #expect(server.isClosed)
    }

    @Test func sendBeforeConnectedProducesNothing() throws {
        let cc = try DTLSCertificate.generate()
        let client = try DTLSEndpoint(role: .client, certificate: cc, remoteFingerprint: cc.fingerprintSHA256)
        #expect(client.send([1]).isEmpty)
        let server = try DTLSEndpoint(role: .server, certificate: cc, remoteFingerprint: cc.fingerprintSHA256)
        #expect(server.start(nowMillis: 0).isEmpty)
    }

    @Test func packRecordsKeepsRecordsWholeWithinMTU() {
        func record(_ n: Int, type: UInt8 = 22) -> [UInt8] {
            [type, 0xFE, 0xFD] + [UInt8](repeating: 0, count: 8) + [UInt8(n >> 8), UInt8(n & 0xFF)] + [UInt8](repeating: 7, count: n)
        }
        let stream = record(500) + record(500) + record(300) + record(2000) + record(10)
        let datagrams = packRecords(stream, mtu: 1200)
        #expect(datagrams.map(\.count) == [1026, 313, 2013, 23])
        #expect(datagrams.flatMap { $0 } == stream)
        #expect(packRecords([1, 2, 3], mtu: 1200) == [[1, 2, 3]])  // a torn tail goes out as is
    }
}

@Suite struct SRTPTests {
    static let profiles: [DTLSEndpoint.Options] = [.init(srtpProfiles: [.aeadAes128Gcm]), .init(srtpProfiles: [.aes128CmSha1_80])]

    /// Sender = client (outbound with its local keys), receiver = server (inbound with its remote keys).
    func sessions(_ options: DTLSEndpoint.Options) throws -> (send: SRTPSession, receive: SRTPSession, profile: SRTPProfile) {
        let (client, server) = try connectedPair(clientOptions: options)
        let c = try #require(keys(client)), s = try #require(keys(server))
        let send = try SRTPSession(profileID: c.profile.rawValue, key: c.localKey, salt: c.localSalt, inbound: false)
        let receive = try SRTPSession(profileID: s.profile.rawValue, key: s.remoteKey, salt: s.remoteSalt, inbound: true)
        return (send, receive, c.profile)
    }

    @Test(arguments: profiles)
    func rtpRoundTripTamperAndReplay(options: DTLSEndpoint.Options) throws {
        let (send, receive, profile) = try sessions(options)
        for seq in UInt16(1000)..<1005 {
            let packet = RTPPacket(payloadType: 111, sequenceNumber: seq, timestamp: 48_000 + UInt32(seq) * 960,
                                   ssrc: 0x1234_5678, marker: seq == 1000, payload: Array(repeating: UInt8(seq & 0xFF), count: 160)).serialized()
            let protected = try send.protectRTP(packet)
            #expect(protected.count == packet.count + (profile == .aeadAes128Gcm ? 16 : 10))
            #expect(Array(protected[0..<12]) == Array(packet[0..<12]))  // header in the clear
            #expect(protected[12..<packet.count] != packet[12...])       // payload encrypted
            var flipped = protected
            flipped[40] ^= 0x01
            #expect {
                _ = try receive.unprotectRTP(flipped)
            } throws: { ($0 as? SRTPError)?.isAuthFailure == true }
            let clear = try receive.unprotectRTP(protected)
            #expect(clear == packet)
            #expect(try RTPPacket(parsing: clear).sequenceNumber == seq)
            #expect {
                _ = try receive.unprotectRTP(protected)
            } throws: { ($0 as? SRTPError)?.isReplay == true }
        }
    }

    @Test(arguments: profiles)
    func rtcpRoundTripTamperAndReplay(options: DTLSEndpoint.Options) throws {
        let (send, receive, _) = try sessions(options)
        let report = RTCP.serialize([.senderReport(SenderReport(ssrc: 0x1234_5678, ntpTimestamp: 0xE000_0000_8000_0000,
                                                                 rtpTimestamp: 96_000, packetCount: 5, octetCount: 800)),
                                     .sourceDescription([SDESChunk(ssrc: 0x1234_5678, items: [SDESItem(type: 1, text: "flowrec")])])])
        let protected = try send.protectRTCP(report)
        #expect(protected.count > report.count)
        #expect(protected[8..<report.count] != report[8...])
        var flipped = protected
        flipped[10] ^= 0x80
        #expect {
            _ = try receive.unprotectRTCP(flipped)
        } throws: { ($0 as? SRTPError)?.isAuthFailure == true }
        let clear = try receive.unprotectRTCP(protected)
        #expect(clear == report)
        #expect(try RTCP.parseCompound(clear).count == 2)
        #expect {
            _ = try receive.unprotectRTCP(protected)
        } throws: { ($0 as? SRTPError)?.isReplay == true }
    }

    @Test func wrongKeyFailsAuthentication() throws {
        let (send, _, profile) = try sessions(.init(srtpProfiles: [.aes128CmSha1_80]))
        #expect(profile == .aes128CmSha1_80)
        let other = try SRTPSession(profile: .aes128CmSha1_80, key: Array(repeating: 1, count: 16),
                                    salt: Array(repeating: 2, count: 14), inbound: true)
        let packet = RTPPacket(payloadType: 96, sequenceNumber: 1, timestamp: 0, ssrc: 9, payload: [1, 2, 3]).serialized()
        let protected = try send.protectRTP(packet)
        #expect {
            _ = try other.unprotectRTP(protected)
        } throws: { ($0 as? SRTPError)?.isAuthFailure == true }
    }

    @Test func badKeyLengthsProfilesAndPacketsThrow() throws {
        #expect(throws: SRTPError.self) {
            _ = try SRTPSession(profile: .aeadAes128Gcm, key: Array(repeating: 0, count: 16), salt: Array(repeating: 0, count: 14), inbound: true)
        }
        #expect(throws: SRTPError.self) {
            _ = try SRTPSession(profileID: 0x0002, key: Array(repeating: 0, count: 16), salt: Array(repeating: 0, count: 14), inbound: true)
        }
        let s = try SRTPSession(profile: .aes128CmSha1_80, key: Array(repeating: 0, count: 16), salt: Array(repeating: 0, count: 14), inbound: true)
        #expect(throws: SRTPError.self) { _ = try s.unprotectRTP([0x80, 0, 0]) }
        #expect(throws: SRTPError.self) { _ = try s.unprotectRTP([]) }
        #expect(throws: SRTPError.self) { _ = try s.unprotectRTCP([0x80, 200, 0, 1]) }
    }
}
