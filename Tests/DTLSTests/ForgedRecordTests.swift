import Testing
@testable import DTLS

/// RFC 6347 §4.1.2.7: a record that fails to parse or authenticate is silently discarded. Only an
/// authenticated close_notify (or a fatal alert that decrypts) may end a connected association.
@Suite struct ForgedRecordTests {
    /// A DTLS 1.2 record header (type, version FEFD, epoch, 48-bit sequence, length) and body.
    static func record(type: UInt8, epoch: UInt16, sequence: UInt64 = 7, declaredLength: Int? = nil,
                       body: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [type, 0xFE, 0xFD, UInt8(epoch >> 8), UInt8(epoch & 0xFF)]
        for shift in stride(from: 40, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: sequence >> UInt64(shift))) }
        let length = declaredLength ?? body.count
        bytes += [UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)]
        return bytes + body
    }

    static let contentTypes: [UInt8] = [20, 21, 22, 23, 24, 25, 63]
    static let epochs: [UInt16] = [0, 1, 2, 0xFFFF]
    static let bodyLengths = [0, 1, 2, 3, 8, 16, 23, 24, 25, 40, 64, 300]

    /// Every forged record, then genuine application data and a genuine close still get through.
    @Test(arguments: [DTLSRole.client, .server])
    func forgedRecordsNeverEndAConnectedAssociation(victimRole: DTLSRole) throws {
        let (client, server) = try connectedPair()
        let (victim, peer) = victimRole == .server ? (server, client) : (client, server)
        var forgedCount = 0
        for type in Self.contentTypes {
            for epoch in Self.epochs {
                for length in Self.bodyLengths {
                    let body = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ Int(type)) }
                    for datagram in [Self.record(type: type, epoch: epoch, body: body),
                                     Self.record(type: type, epoch: epoch, declaredLength: length + 5, body: body),
                                     Self.record(type: type, epoch: epoch, sequence: 0xFFFF_FFFF_FFFF, body: body)] {
                        let events = victim.receive(datagram, nowMillis: 0)
                        #expect(events.failure == nil, "type \(type) epoch \(epoch) body \(length)")
                        #expect(!events.closed, "type \(type) epoch \(epoch) body \(length)")
                        forgedCount += 1
                    }
                }
            }
        }
        #expect(forgedCount == 7 * 4 * 12 * 3)
        #expect(keys(victim) != nil)
        #expect(!victim.isClosed)
        // Two forged records packed into one datagram with a genuine one: the genuine one is read.
        let genuine = peer.send([9, 8, 7])
        #expect(genuine.count == 1)
        let packed = Self.record(type: 21, epoch: 1, body: [2, 0]) + genuine[0] + Self.record(type: 23, epoch: 1, body: [1])
        #expect(victim.receive(packed, nowMillis: 0).applicationData == [[9, 8, 7]])
        let bye = peer.close()
        #expect(victim.receive(bye[0], nowMillis: 0).closed)
    }

    /// The issue's datagram: 15 bytes, epoch 1, a 2-byte body.
    @Test func theFifteenByteDatagram() throws {
        let (_, server) = try connectedPair()
        for type: UInt8 in [21, 22, 23] {
            let datagram = Self.record(type: type, epoch: 1, body: [2, 40])
            #expect(datagram.count == 15)
            #expect(server.receive(datagram, nowMillis: 0).failure == nil)
        }
        #expect(keys(server) != nil)
    }
}

/// The same forgeries against every kind of suite a peer may negotiate.
@Suite struct ForgedRecordSuiteTests {
    static let suites = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"]

    @Test(arguments: suites)
    func forgedRecordsAreDiscarded(suite: String) throws {
        let options = DTLSEndpoint.Options(cipherSuites: suite)
        let (client, server) = try connectedPair(clientOptions: options, serverOptions: options)
        for (victim, peer) in [(server, client), (client, server)] {
            for type in ForgedRecordTests.contentTypes {
                for epoch in ForgedRecordTests.epochs {
                    for length in ForgedRecordTests.bodyLengths {
                        let body = [UInt8](repeating: type == 21 ? 2 : 0x5A, count: length)
                        let events = victim.receive(ForgedRecordTests.record(type: type, epoch: epoch, body: body), nowMillis: 0)
                        #expect(events.failure == nil && !events.closed, "\(suite): type \(type) epoch \(epoch) body \(length): \(events.failure ?? "closed")")
                    }
                }
            }
            #expect(keys(victim) != nil, "\(suite)")
            #expect(victim.discardedRecords > 0)
            #expect(victim.receive(peer.send([1, 2, 3])[0], nowMillis: 0).applicationData == [[1, 2, 3]], "\(suite)")
        }
        #expect(server.receive(client.close()[0], nowMillis: 0).closed, "\(suite)")
    }

    /// A peer offering CBC first gets an AEAD suite (server preference); one offering only CBC
    /// fails the handshake with OpenSSL's reason rather than connecting on a suite we cannot guard.
    @Test func aeadIsChosenAndCBCOnlyPeersAreRefused() throws {
        let client = DTLSEndpoint.Options(cipherSuites: "ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-GCM-SHA256")
        let (c, s) = try connectedPair(clientOptions: client)
        #expect(c.negotiatedCipherSuite == "ECDHE-ECDSA-AES128-GCM-SHA256")
        #expect(s.negotiatedCipherSuite == "ECDHE-ECDSA-AES128-GCM-SHA256")

        let cc = try DTLSCertificate.generate(), sc = try DTLSCertificate.generate()
        let cbcClient = try DTLSEndpoint(role: .client, certificate: cc, remoteFingerprint: sc.fingerprintSHA256,
                                         options: .init(cipherSuites: "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA"))
        let server = try DTLSEndpoint(role: .server, certificate: sc, remoteFingerprint: cc.fingerprintSHA256)
        pump(cbcClient, server, first: cbcClient.start(nowMillis: 0))
        guard case .failed(let reason) = server.state else {
            Issue.record("a CBC-only client connected: \(server.state)")
            return
        }
        #expect(reason.contains("no shared cipher"), "\(reason)")
    }

    /// The filter alone, on hand-made datagrams.
    @Test func filterKeepsGenuineShapesAndDropsTheRest() {
        let filter = DTLSRecordFilter(epoch: 1, minimumProtectedBody: 24)
        let data = ForgedRecordTests.record(type: 23, epoch: 1, body: [UInt8](repeating: 1, count: 40))
        let retransmit = ForgedRecordTests.record(type: 22, epoch: 0, body: [UInt8](repeating: 2, count: 30))
        #expect(filter.filter(data) == (data, 0))
        #expect(filter.filter(retransmit + data).passed == retransmit + data)
        let bad = [ForgedRecordTests.record(type: 21, epoch: 0, body: [2, 40]),         // plaintext alert after keys
                   ForgedRecordTests.record(type: 23, epoch: 2, body: [UInt8](repeating: 0, count: 40)),
                   ForgedRecordTests.record(type: 23, epoch: 1, body: [UInt8](repeating: 0, count: 23)),
                   ForgedRecordTests.record(type: 24, epoch: 1, body: [UInt8](repeating: 0, count: 40)),
                   Array(data.prefix(12))]
        for record in bad { #expect(filter.filter(record) == (nil, 1)) }
        let truncated = ForgedRecordTests.record(type: 23, epoch: 1, declaredLength: 100, body: [UInt8](repeating: 0, count: 40))
        #expect(filter.filter(data + truncated) == (data, 1))
    }
}
