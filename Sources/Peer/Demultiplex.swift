/// Module `Peer`: the sans-IO parts of a receiving WebRTC peer — telling apart what arrives on
/// the one UDP socket, keeping reception statistics for receiver reports, and deciding which
/// lost packets to ask for again (NACK). Sockets and timers live in a driver.
import RTP

/// What a datagram on a WebRTC socket is (RFC 7983 §7, with RFC 5761 for RTP vs RTCP).
public enum DatagramKind: Sendable, Equatable {
    case stun, dtls, rtp, rtcp, unknown

    /// Classifies by the first byte (and the RTCP packet type for RTP/RTCP).
    public init(_ bytes: [UInt8]) {
        guard let first = bytes.first else {
            self = .unknown
            return
        }
        switch first {
        case 0...3: self = .stun
        case 20...63: self = .dtls
        case 128...191: self = bytes.count >= 2 && isRTCP(bytes) ? .rtcp : (bytes.count >= 12 ? .rtp : .unknown)
        default: self = .unknown
        }
    }
}
