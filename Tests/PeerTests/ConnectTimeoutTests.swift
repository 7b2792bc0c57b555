import DTLS
import ICE
import LoopbackPeer
import Testing
@testable import Peer

/// An offer that can never connect fails after `connectTimeoutMicros`, naming the step it waited for,
/// so its slot in a room is freed; a connection that comes up in time is never touched.
@Suite struct ConnectTimeoutTests {
    private func recorder(offer: String, timeout: Int64? = 15_000_000) throws -> PeerConnection {
        var options = PeerOptions()
        options.connectTimeoutMicros = timeout
        return try PeerConnection(offer: offer, hostAddresses: [STUNAddress(ip: "10.0.0.1", port: 6000)],
                                  certificate: try DTLSCertificate.generate(), options: options)
    }

    private func failures(_ peer: PeerConnection) -> [String] {
        peer.takeOutput().events.compactMap { if case .failed(let reason) = $0 { reason } else { nil } }
    }

    @Test func anOfferWithoutCandidatesFailsAfterFifteenSeconds() throws {
        let publisher = try LoopbackPublisher()
        let offer = publisher.offer().split(separator: "\r\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("a=candidate:") }.joined(separator: "\r\n")
        let peer = try recorder(offer: offer)
        let start: Int64 = 5_000_000
        peer.poll(nowMicros: start)
        #expect(peer.nextDeadlineMicros.map { $0 <= start + 15_000_000 } == true, "the deadline wakes the driver")
        var now = start
        while now < start + 14_900_000 {
            now += 100_000
            peer.poll(nowMicros: now)
            #expect(failures(peer).isEmpty, "failed early at \(now - start) µs")
        }
        peer.poll(nowMicros: start + 15_000_000)
        let reasons = failures(peer)
        #expect(reasons == ["not connected within 15 s: no remote candidate was given or reached us"], "\(reasons)")
        #expect(peer.failure != nil && !peer.isConnected)
    }

    @Test func anUnreachableCandidateSaysICEFoundNoPair() throws {
        let publisher = try LoopbackPublisher()
        let peer = try recorder(offer: publisher.offer(), timeout: 2_000_000)
        // Nothing is delivered: the publisher never answers the checks.
        var now: Int64 = 0
        var reasons: [String] = []
        while now <= 2_100_000 && reasons.isEmpty {
            peer.poll(nowMicros: now)
            reasons = failures(peer)
            now += 50_000
        }
        #expect(reasons == ["not connected within 2 s: ICE found no working pair"], "\(reasons)")
    }

    @Test func aConnectedPeerOutlivesTheTimeout() throws {
        let publisher = try LoopbackPublisher()
        let peer = try recorder(offer: publisher.offer(), timeout: 1_000_000)
        try publisher.accept(answer: peer.answer)
        var link = Link(publisher: publisher, recorder: peer)
        link.run(3_000_000)
        #expect(peer.isConnected && peer.failure == nil, "\(link.events)")
        #expect(!link.events.contains { if case .failed = $0 { true } else { false } })
    }
}
