import DTLS
import ICE
import LoopbackPeer
import RTP
import Testing
@testable import Peer

/// A simulcast sender (RFC 8853) as browsers offer it: three layers named by rid, SSRCs not in the
/// SDP but learned from the rid header extensions, RTX naming the layer it repairs.
@Suite struct SimulcastPeerTests {
    static let layers: [(rid: String, ssrc: UInt32)] = [("q", 5001), ("h", 5002), ("f", 5003)]
    static let rtxOfF: UInt32 = 6003

    /// The loopback publisher's offer, its video m-line made a simulcast one (no `a=ssrc` lines, as Chrome sends it).
    private func connect() throws -> Link {
        let publisher = try LoopbackPublisher()
        var lines = publisher.offer().components(separatedBy: "\r\n")
        lines.removeAll { $0.hasPrefix("a=ssrc-group:FID") || $0.hasPrefix("a=ssrc:2222") || $0.hasPrefix("a=ssrc:3333") }
        let video = lines.firstIndex { $0.hasPrefix("a=rtpmap:96 ") }!
        lines.insert(contentsOf: [
            "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
            "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
            "a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
            "a=rid:q send", "a=rid:h send", "a=rid:f send max-width=1280;max-height=720", "a=simulcast:send q;h;f",
        ], at: video + 1)
        let recorder = try PeerConnection(offer: lines.joined(separator: "\r\n"), hostAddresses: [STUNAddress(ip: "10.0.0.1", port: 6000)],
                                          certificate: try DTLSCertificate.generate())
        try publisher.accept(answer: recorder.answer)
        var link = Link(publisher: publisher, recorder: recorder)
        link.run(2_000_000)
        return link
    }

    private func packet(_ layer: (rid: String, ssrc: UInt32), seq: UInt16, named: Bool, keyframe: Bool = false) -> [UInt8] {
        let frame: [UInt8] = keyframe ? [0x50, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0x68, 0x01] : [0x51, 0x02, 0x00]
        let payload: [UInt8] = [0x10] + frame + [UInt8](repeating: UInt8(truncatingIfNeeded: seq), count: 60)
        let extensions = named ? [RTPHeaderExtension(id: 4, data: Array("1".utf8)), RTPHeaderExtension(id: 10, data: Array(layer.rid.utf8))] : []
        return RTPPacket(payloadType: 96, sequenceNumber: seq, timestamp: UInt32(seq) * 3000, ssrc: layer.ssrc, marker: true,
                         extensions: extensions, payload: payload).serialized()
    }

    private func plis(_ link: Link, _ ssrc: UInt32) -> Int {
        link.publisher.feedback.filter { if case .pictureLossIndication(_, ssrc) = $0 { true } else { false } }.count
    }

    @Test func theAnswerReceivesEveryLayer() throws {
        let link = try connect()
        let answer = link.recorder.answer
        #expect(answer.contains("a=rid:q recv\r\na=rid:h recv\r\na=rid:f recv\r\na=simulcast:recv q;h;f\r\n"), "\(answer)")
        #expect(answer.contains("a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"))
        #expect(answer.contains("a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"))
        #expect(link.recorder.negotiated.simulcastRids == ["1": ["q", "h", "f"]])
    }

    @Test func layersAreLearnedRTXRepairsItsLayerAndAPausedLayerAsksTheOthersForKeyframes() throws {
        var link = try connect()
        try #require(link.recorder.isConnected)
        // The first packets name their layer (Chrome stops once its SSRCs are acknowledged); each layer starts with a keyframe.
        // f's packet 110 is lost and NACKed; its retransmission on an unannounced SSRC names the layer (rrid).
        let original = try RTPPacket(parsing: packet(Self.layers[2], seq: 110, named: false))
        let rtx = RTPPacket(payloadType: 97, sequenceNumber: 9, timestamp: original.timestamp, ssrc: Self.rtxOfF, marker: true,
                            extensions: [RTPHeaderExtension(id: 4, data: Array("1".utf8)), RTPHeaderExtension(id: 11, data: Array("f".utf8))],
                            payload: [0, 110] + Array(original.payload))
        for seq in UInt16(100)..<130 {
            for layer in Self.layers where !(layer.rid == "f" && seq == 110) {
                link.deliver(fromPublisher: link.publisher.send(rtp: packet(layer, seq: seq, named: seq < 103, keyframe: seq == 100)).map { [$0] } ?? [])
            }
            if seq == 113 { link.deliver(fromPublisher: link.publisher.send(rtp: rtx.serialized()).map { [$0] } ?? []) }
            link.run(33_000)
        }
        #expect(link.recorder.simulcastLayers == ["1/q": 5001, "1/h": 5002, "1/f": 5003])
        #expect(link.publisher.feedback.contains { if case .nack(let nack) = $0 { nack.mediaSSRC == 5003 && nack.lost.contains(110) } else { false } })
        let repaired = link.delivered.compactMap { try? RTPPacket(parsing: $0.bytes) }.filter { $0.ssrc == 5003 && $0.sequenceNumber == 110 }
        #expect(repaired.count == 1 && link.recorder.stats.repairedPackets == 1)
        // The top layer pauses: within about half a second q and h are asked for a keyframe.
        let before = (plis(link, 5001), plis(link, 5002), plis(link, 5003))
        for seq in UInt16(130)..<150 {
            for layer in Self.layers.prefix(2) { link.deliver(fromPublisher: link.publisher.send(rtp: packet(layer, seq: seq, named: false)).map { [$0] } ?? []) }
            link.run(33_000)
        }
        #expect(plis(link, 5001) > before.0 && plis(link, 5002) > before.1 && plis(link, 5003) == before.2,
                "PLIs before \(before), after \((plis(link, 5001), plis(link, 5002), plis(link, 5003)))")
        #expect(link.recorder.stats.layerChanges == 1)
    }
}
