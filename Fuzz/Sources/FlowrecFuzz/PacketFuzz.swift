import ICE
import Peer
import RTP

/// RTP, RTCP (transport-cc feedback included) and STUN parsing; what parses must serialize into
/// bytes that parse again.
enum PacketFuzz {
    static func rtp(_ data: [UInt8]) {
        _ = isRTCP(data)
        _ = DatagramKind(data)
        guard let packet = try? RTPPacket(parsing: data) else { return }
        for id in 0...15 { _ = packet.extensionData(id: UInt8(id)).map { audioLevel(extensionData: $0) } }
        let again = packet.serialized()
        do { _ = try RTPPacket(parsing: again) } catch {
            preconditionFailure("a parsed RTP packet serializes into bytes that do not parse: \(error)")
        }
    }

    static func rtcp(_ data: [UInt8]) {
        _ = isRTCP(data)
        guard let packets = try? RTCP.parseCompound(data) else { return }
        for case .transportFeedback(let feedback) in packets { _ = feedback.arrivalMicros }
        // `.unknown` packets carry no body and are not serialized; the others must come back as they were.
        let known = packets.filter { if case .unknown = $0 { false } else { true } }
        guard !known.isEmpty else { return }
        let again: [RTCPPacket]
        do { again = try RTCP.parseCompound(RTCP.serialize(known)) } catch {
            preconditionFailure("parsed RTCP serializes into bytes that do not parse: \(error)")
        }
        precondition(again.map(normalized) == known.map(normalized),
                     "RTCP changed through serialize and parse: \(known) → \(again)")
    }

    /// What serialization may change: a NACK's lost list is packed in its own order without
    /// repeats, and a REMB bitrate beyond 2^46 × 18 bits is read as `UInt64.max` (saturated),
    /// which serializes as the largest value 18 bits can say.
    private static func normalized(_ packet: RTCPPacket) -> RTCPPacket {
        switch packet {
        case .nack(var nack):
            nack.lost = Array(Set(nack.lost)).sorted()
            return .nack(nack)
        case .remb(var remb) where remb.bitrate >= 0x3FFFF << 46:
            remb.bitrate = .max
            return .remb(remb)
        default:
            return packet
        }
    }

    static let local = ICECredentials(ufrag: "fzL1", pwd: "fuzz-local-password-0001")
    static let remote = ICECredentials(ufrag: "fzR1", pwd: "fuzz-remote-password-001")
    static let peer = STUNAddress(ip: "192.0.2.7", port: 40_000)

    static func stun(_ data: [UInt8]) {
        _ = STUNMessage.isSTUN(data)
        _ = STUNMessage.verifyFingerprint(data)
        _ = STUNMessage.verifyIntegrity(data, key: Array(local.pwd.utf8))
        _ = TURN.parseChannelData(data)
        let agent = ICEAgent(role: data.first.map { $0 & 1 == 0 } ?? true ? .controlled : .controlling,
                             local: local, tieBreaker: 7, random: { 0x1234_5678_9abc_def0 })
        agent.setRemoteCredentials(remote)
        _ = agent.receive(data, from: peer, nowMicros: 1_000_000)
        guard let message = try? STUNMessage(parsing: data) else { return }
        let again = message.serialized()
        do { _ = try STUNMessage(parsing: again) } catch {
            preconditionFailure("a parsed STUN message serializes into bytes that do not parse: \(error)")
        }
        // The agent past authentication: the same message signed with the key it checks.
        let key = message.messageClass == .request ? local.pwd : remote.pwd
        _ = agent.receive(message.serialized(integrityKey: Array(key.utf8)), from: peer, nowMicros: 1_100_000)
        _ = agent.takeEvents()
    }
}
