import SeededRandom
import DTLS
import ICE
import RTP
import SRTP
import LoopbackPeer
import Testing
@testable import Peer

extension LoopbackPublisher {
    /// A VP8 packet (payload descriptor + bytes) on the video SSRC (or `ssrc`), remembered for retransmission.
    func videoPacket(seq: UInt16, keyframe: Bool = false, ssrc: UInt32? = nil) -> ICETransmit? {
        // VP8 descriptor (S=1, partition 0), then a frame tag: a keyframe carries the start code and 640×360.
        let frame: [UInt8] = keyframe ? [0x50, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0x68, 0x01] : [0x51, 0x02, 0x00]
        let payload: [UInt8] = [0x10] + frame + [UInt8](repeating: UInt8(truncatingIfNeeded: seq), count: 100 - frame.count + 1)
        return send(rtp: RTPPacket(payloadType: 96, sequenceNumber: seq, timestamp: UInt32(seq) * 3000, ssrc: ssrc ?? streams.videoSSRC,
                                   marker: true, payload: payload).serialized())
    }
}

/// The in-memory network: delivers datagrams between the publisher and the recorder, runs both on a virtual clock.
struct Link {
    let publisher: LoopbackPublisher
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
        let publisher = try LoopbackPublisher()
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
        let noFingerprint = try LoopbackPublisher().offer().replacingOccurrences(of: "a=fingerprint", with: "a=x-fingerprint")
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

