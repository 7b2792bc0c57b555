import SeededRandom
import DTLS
import ICE
import RTP
import SRTP
import Testing
@testable import Peer

/// A publisher made of the project's own parts (a controlling ICE agent, a DTLS endpoint, an SRTP
/// sender) talking to a ``PeerConnection`` through an in-memory network on a virtual clock.
final class FakePublisher {
    let address = STUNAddress(ip: "10.0.0.2", port: 5000)
    let credentials = ICECredentials(ufrag: "pubU", pwd: "publisherpassword0123456")
    let certificate: DTLSCertificate
    let ice: ICEAgent
    var dtls: DTLSEndpoint?
    var srtp: SRTPSession?
    var srtcpIn: SRTPSession?
    var sent: [UInt16: [UInt8]] = [:]
    var feedback: [RTCPPacket] = []
    var failed: String?

    init() throws {
        certificate = try DTLSCertificate.generate()
        ice = ICEAgent(role: .controlling, local: credentials)
        ice.addLocalHostCandidate(address)
        ice.finishGathering()
    }

    func offer(setup: String = "actpass", fingerprint: String? = nil, nack: Bool = true, secondVideo: Bool = false) -> String {
        let fp = fingerprint ?? certificate.fingerprintSHA256
        let feedback = nack ? "a=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\na=rtcp-fb:96 goog-remb\r\n" : ""
        return "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
            + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtcp-mux\r\n"
            + "a=ice-ufrag:\(credentials.ufrag)\r\na=ice-pwd:\(credentials.pwd)\r\na=fingerprint:sha-256 \(fp)\r\na=setup:\(setup)\r\n"
            + "a=rtpmap:111 opus/48000/2\r\na=ssrc:1111 cname:pub\r\n"
            + "a=candidate:1 1 udp 2130706431 \(address.ip) \(address.port) typ host\r\n"
            + "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=sendonly\r\na=rtcp-mux\r\n"
            + "a=ice-ufrag:\(credentials.ufrag)\r\na=ice-pwd:\(credentials.pwd)\r\na=fingerprint:sha-256 \(fp)\r\na=setup:\(setup)\r\n"
            + "a=rtpmap:96 VP8/90000\r\n\(feedback)a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"
            + "a=ssrc-group:FID 2222 3333\r\na=ssrc:2222 cname:pub\r\na=ssrc:3333 cname:pub\r\n"
            + (secondVideo ? "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=sendonly\r\na=rtcp-mux\r\n"
                + "a=ice-ufrag:\(credentials.ufrag)\r\na=ice-pwd:\(credentials.pwd)\r\na=fingerprint:sha-256 \(fp)\r\na=setup:\(setup)\r\n"
                + "a=rtpmap:96 VP8/90000\r\na=ssrc:4444 cname:other\r\n" : "")
    }

    /// Reads the answer: remote ICE credentials, candidates and the DTLS role it leaves us.
    func accept(answer: String) throws {
        let lines = answer.split(separator: "\r\n").map(String.init)
        func value(_ prefix: String) -> String? { lines.first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) } }
        ice.setRemoteCredentials(ICECredentials(ufrag: try #require(value("a=ice-ufrag:")), pwd: try #require(value("a=ice-pwd:"))))
        for line in lines where line.hasPrefix("a=candidate:") { ice.addRemoteCandidate(try ICECandidate(sdpValue: line)) }
        let fingerprint = try #require(value("a=fingerprint:sha-256 "))
        let role: DTLSRole = value("a=setup:") == "active" ? .server : .client
        dtls = try DTLSEndpoint(role: role, certificate: certificate, remoteFingerprint: fingerprint)
    }

    func receive(_ datagram: [UInt8], from: STUNAddress, now: Int64) -> [ICETransmit] {
        var out: [ICETransmit] = []
        switch ice.receive(datagram, from: from, nowMicros: now) {
        case .handled(let replies): out += replies
        case .dropped: break
        case .applicationData(let data, _):
            if DatagramKind(data) == .dtls, let dtls {
                let events = dtls.receive(data, nowMillis: now / 1000)
                out += events.outgoing.compactMap { ice.send($0) }
                if let keys = events.connected {
                    srtp = try? SRTPSession(profileID: keys.profile.rawValue, key: keys.localKey, salt: keys.localSalt, inbound: false)
                    srtcpIn = try? SRTPSession(profileID: keys.profile.rawValue, key: keys.remoteKey, salt: keys.remoteSalt, inbound: true)
                }
                if let failure = events.failure { failed = failure }
            } else if DatagramKind(data) == .rtcp, let srtcpIn, let clear = try? srtcpIn.unprotectRTCP(data),
                      let packets = try? RTCP.parseCompound(clear) {
                feedback += packets
                for case .nack(let nack) in packets { out += nack.lost.compactMap { retransmit($0) } }
            }
        }
        return out
    }

    func poll(now: Int64) -> [ICETransmit] {
        var out = ice.poll(nowMicros: now)
        for event in ice.takeEvents() {
            if case .selectedPair = event, let dtls, dtls.role == .client { out += dtls.start(nowMillis: now / 1000).compactMap { ice.send($0) } }
        }
        if let dtls, let due = dtls.nextTimeoutMillis, due <= now / 1000 { out += dtls.handleTimeout(nowMillis: now / 1000).compactMap { ice.send($0) } }
        return out
    }

    /// A VP8 packet (payload descriptor + bytes) on SSRC 2222 (or `ssrc`), remembered for retransmission.
    func videoPacket(seq: UInt16, keyframe: Bool = false, ssrc: UInt32 = 2222) -> ICETransmit? {
        // VP8 descriptor (S=1, partition 0), then a frame tag: a keyframe carries the start code and 640×360.
        let frame: [UInt8] = keyframe ? [0x50, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0x68, 0x01] : [0x51, 0x02, 0x00]
        let payload: [UInt8] = [0x10] + frame + [UInt8](repeating: UInt8(truncatingIfNeeded: seq), count: 100 - frame.count + 1)
        let clear = RTPPacket(payloadType: 96, sequenceNumber: seq, timestamp: UInt32(seq) * 3000, ssrc: ssrc, marker: true,
                              payload: payload).serialized()
        sent[seq] = clear
        return protect(clear)
    }

    /// RFC 4588 retransmission on SSRC 3333 (payload type 97) of a sent packet.
    func retransmit(_ seq: UInt16) -> ICETransmit? {
        guard let clear = sent[seq], let original = try? RTPPacket(parsing: clear) else { return nil }
        let rtx = RTPPacket(payloadType: 97, sequenceNumber: seq &+ 1000, timestamp: original.timestamp, ssrc: 3333, marker: original.marker,
                            payload: [UInt8(seq >> 8), UInt8(seq & 0xFF)] + Array(original.payload))
        return protect(rtx.serialized())
    }

    private func protect(_ clear: [UInt8]) -> ICETransmit? {
        guard let srtp, let protected = try? srtp.protectRTP(clear) else { return nil }
        return ice.send(protected)
    }
}

/// The in-memory network: delivers datagrams between the publisher and the recorder, runs both on a virtual clock.
struct Link {
    let publisher: FakePublisher
    let recorder: PeerConnection
    let recorderAddress = STUNAddress(ip: "10.0.0.1", port: 6000)
    var now: Int64 = 1_000_000
    var delivered: [ReceivedPacket] = []
    var events: [PeerEvent] = []
    /// Datagrams from the publisher for which this returns true are lost.
    var drop: ([UInt8]) -> Bool = { _ in false }

    mutating func deliver(fromPublisher transmits: [ICETransmit]) {
        for t in transmits where t.destination == recorderAddress && !drop(t.datagram) {
            recorder.receive(t.datagram, from: publisher.address, nowMicros: now)
        }
        collect()
    }

    mutating func collect() {
        let output = recorder.takeOutput()
        delivered += output.packets
        events += output.events
        var replies: [ICETransmit] = []
        for t in output.transmits where t.destination == publisher.address {
            replies += publisher.receive(t.datagram, from: recorderAddress, now: now)
        }
        if !replies.isEmpty { deliver(fromPublisher: replies) }
    }

    /// Advances the clock in 5 ms steps for `micros`, polling both sides.
    mutating func run(_ micros: Int64) {
        let end = now + micros
        while now < end {
            now += 5_000
            deliver(fromPublisher: publisher.poll(now: now))
            recorder.poll(nowMicros: now)
            collect()
        }
    }
}

@Suite struct PeerConnectionTests {
    private func connect(setup: String = "actpass", fingerprint: String? = nil) throws -> Link {
        let publisher = try FakePublisher()
        let recorder = try PeerConnection(offer: publisher.offer(setup: setup, fingerprint: fingerprint),
                                          hostAddresses: [STUNAddress(ip: "10.0.0.1", port: 6000)], certificate: try DTLSCertificate.generate())
        try publisher.accept(answer: recorder.answer)
        var link = Link(publisher: publisher, recorder: recorder)
        link.run(2_000_000)
        return link
    }

    @Test func answersRecvOnlyAndConnectsAsDTLSClient() throws {
        let link = try connect()
        #expect(link.recorder.answer.contains("a=setup:active") && link.recorder.answer.contains("a=recvonly"))
        #expect(link.events.contains(.connected), "\(link.events)")
        #expect(link.recorder.isConnected && link.publisher.srtp != nil)
    }

    @Test func connectsAsDTLSServerWhenTheOfferIsActive() throws {
        let link = try connect(setup: "active")
        #expect(link.recorder.answer.contains("a=setup:passive"))
        #expect(link.recorder.isConnected, "\(link.events)")
    }

    @Test func aWrongFingerprintFailsAndNoMediaFlows() throws {
        let wrong = String(repeating: "AB:", count: 31) + "AB"
        let link = try connect(fingerprint: wrong)
        #expect(!link.recorder.isConnected)
        #expect(link.events.contains { if case .failed(let reason) = $0 { reason.contains("DTLS") } else { false } }, "\(link.events)")
    }

    @Test func nackBringsBackALostPacketThroughRTXAndNewStreamsGetAPLI() throws {
        var link = try connect()
        try #require(link.recorder.isConnected)
        link.drop = { datagram in
            // The original of sequence 65_534 never arrives (its retransmission on SSRC 3333 does).
            guard DatagramKind(datagram) == .rtp else { return false }
            return datagram.count > 8 && datagram[8...11].elementsEqual([0, 0, 0x08, 0xAE]) && datagram[2] == 0xFF && datagram[3] == 0xFE
        }
        for seq in (0..<12).map({ UInt16(truncatingIfNeeded: 65_530 + $0) }) {
            link.deliver(fromPublisher: link.publisher.videoPacket(seq: seq, keyframe: seq == 65_530).map { [$0] } ?? [])
            link.run(33_000)
        }
        link.run(1_200_000)
        let video = link.delivered.filter { $0.kind == .rtp }.compactMap { try? RTPPacket(parsing: $0.bytes) }
        #expect(Set(video.map(\.sequenceNumber)) == Set((0..<12).map { UInt16(truncatingIfNeeded: 65_530 + $0) }), "\(video.map(\.sequenceNumber))")
        let repaired = try #require(video.first { $0.sequenceNumber == 65_534 })
        #expect(repaired.ssrc == 2222 && repaired.payloadType == 96 && repaired.payload.count == 102 && repaired.payload.dropFirst().first == 0x51)
        #expect(link.recorder.stats.repairedPackets == 1 && link.recorder.stats.nackedPackets >= 1)
        #expect(link.publisher.feedback.contains { if case .pictureLossIndication(_, 2222) = $0 { true } else { false } })
        // Receiver reports with a block for the stream, and REMB, came within the second.
        #expect(link.publisher.feedback.contains { if case .receiverReport(let rr) = $0 { rr.reports.contains { $0.ssrc == 2222 } } else { false } })
        #expect(link.publisher.feedback.contains { if case .remb(let remb) = $0 { remb.ssrcs == [2222] } else { false } })
    }

    @Test func aVideoStreamStartingWithoutAKeyframeAsksAgainUntilOneComes() throws {
        var link = try connect()
        try #require(link.recorder.isConnected)
        func plis() -> Int { link.publisher.feedback.filter { if case .pictureLossIndication(_, 2222) = $0 { true } else { false } }.count }
        // Joined mid-stream: 2 s of delta frames only.
        for seq in UInt16(100)..<160 {
            link.deliver(fromPublisher: link.publisher.videoPacket(seq: seq).map { [$0] } ?? [])
            link.run(33_000)
        }
        let whileWaiting = plis()
        #expect(whileWaiting >= 3, "PLIs while no keyframe came: \(whileWaiting)")
        // A keyframe ends the requests.
        link.deliver(fromPublisher: link.publisher.videoPacket(seq: 160, keyframe: true).map { [$0] } ?? [])
        for seq in UInt16(161)..<220 {
            link.deliver(fromPublisher: link.publisher.videoPacket(seq: seq).map { [$0] } ?? [])
            link.run(33_000)
        }
        #expect(plis() == whileWaiting, "PLIs after the keyframe: \(plis() - whileWaiting)")
    }

    @Test func renegotiationAddsAnMLineAndPacketsCarryTheirMid() throws {
        var link = try connect()
        try #require(link.recorder.isConnected)
        let answer = try link.recorder.renegotiate(offer: link.publisher.offer(secondVideo: true), nowMicros: link.now)
        #expect(answer.contains("a=mid:2") && answer.contains("BUNDLE 0 1 2") && answer.contains("o=flowrec") && answer.contains(" 3 IN IP4"))
        #expect(link.recorder.negotiated.midOfSSRC[4444] == "2" && link.recorder.negotiated.midOfSSRC[2222] == "1")
        link.deliver(fromPublisher: [link.publisher.videoPacket(seq: 10, keyframe: true), link.publisher.videoPacket(seq: 500, keyframe: true, ssrc: 4444)].compactMap { $0 })
        let mids = Dictionary(link.delivered.compactMap { p in (try? RTPPacket(parsing: p.bytes)).map { ($0.ssrc, p.mid) } }, uniquingKeysWith: { a, _ in a })
        #expect(mids[2222] == "1" && mids[4444] == "2", "\(mids)")
        #expect(link.recorder.isConnected)
        // A changed fingerprint cannot be renegotiated on the same DTLS association.
        let other = link.publisher.offer(fingerprint: String(repeating: "CD:", count: 31) + "CD")
        #expect(throws: PeerError.self) { try link.recorder.renegotiate(offer: other, nowMicros: link.now) }
    }

    @Test func iceRestartFromAFragmentKeepsMediaFlowing() throws {
        var link = try connect()
        try #require(link.recorder.isConnected)
        let fresh = ICECredentials(ufrag: "pub2", pwd: "publisherpassword9876543")
        let fragment = link.recorder.restartICE(remote: fresh, nowMicros: link.now)
        let lines = fragment.split(separator: "\r\n").map(String.init)
        let ufrag = try #require(lines.first { $0.hasPrefix("a=ice-ufrag:") }).dropFirst(12)
        let pwd = try #require(lines.first { $0.hasPrefix("a=ice-pwd:") }).dropFirst(10)
        #expect(ufrag != link.recorder.answer.split(separator: "\r\n").first { $0.hasPrefix("a=ice-ufrag:") }?.dropFirst(12))
        #expect(lines.contains { $0.hasPrefix("a=candidate:") })
        link.publisher.ice.restart(local: fresh, remote: ICECredentials(ufrag: String(ufrag), pwd: String(pwd)), nowMicros: link.now)
        link.run(2_000_000)
        #expect(link.publisher.ice.state == .connected || link.publisher.ice.state == .completed, "\(link.publisher.ice.state)")
        link.deliver(fromPublisher: [link.publisher.videoPacket(seq: 7, keyframe: true)].compactMap { $0 })
        #expect(link.delivered.contains { $0.kind == .rtp })
        #expect(link.recorder.isConnected)
    }

    @Test func badOffersAreRefusedWithAReason() throws {
        let certificate = try DTLSCertificate.generate()
        let host = [STUNAddress(ip: "10.0.0.1", port: 6000)]
        #expect(throws: PeerError.self) { try PeerConnection(offer: "garbage", hostAddresses: host, certificate: certificate) }
        let noFingerprint = try FakePublisher().offer().replacingOccurrences(of: "a=fingerprint", with: "a=x-fingerprint")
        #expect(throws: PeerError.self) { try PeerConnection(offer: noFingerprint, hostAddresses: host, certificate: certificate) }
    }

    @Test func seededGarbageNeverCrashesAConnectedPeer() throws {
        var link = try connect()
        var generator = SplitMix64(seed: 42)
        for i in 0..<5_000 {
            let length = Int(generator.next() % 300)
            var datagram = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if !datagram.isEmpty { datagram[0] = [0, 1, 22, 23, 128, 129, 144, 200][i % 8] }
            link.recorder.receive(datagram, from: link.publisher.address, nowMicros: link.now)
            link.collect()
        }
        #expect(link.recorder.isConnected)
        #expect(link.recorder.stats.srtpAuthFailures + link.recorder.stats.malformed > 1_000)
    }
}

