/// The vocabulary shared by the ICE agent and its users (the peer driver, SDP, signalling).

/// Which side of the ICE session we are (RFC 8445 §6.1.1). The side that receives an offer is
/// normally controlled; a full agent switches on a role conflict (§7.3.1.1).
public enum ICERole: Sendable, Equatable {
    case controlling
    case controlled
}

/// An agent's `ice-ufrag` and `ice-pwd` (RFC 8839 §5.4).
public struct ICECredentials: Sendable, Equatable {
    public var ufrag: String
    public var pwd: String

    public init(ufrag: String, pwd: String) {
        self.ufrag = ufrag
        self.pwd = pwd
    }

    /// Fresh random credentials: an 8-character ufrag and a 24-character password (RFC 8839
    /// asks for at least 4 and 22 characters of ice-char, 24 and 128 bits of randomness).
    public static func random() -> ICECredentials {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        func text(_ count: Int) -> String {
            var generator = SystemRandomNumberGenerator()
            return String((0..<count).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
        }
        return ICECredentials(ufrag: text(8), pwd: text(24))
    }
}

/// A candidate's type (RFC 8445 §5.1.1).
public enum ICECandidateType: String, Sendable, Equatable, Hashable {
    case host
    case serverReflexive = "srflx"
    case peerReflexive = "prflx"
    case relayed = "relay"
}

/// One ICE candidate, as in `a=candidate` (RFC 8839 §5.1). Only UDP candidates are used.
public struct ICECandidate: Sendable, Equatable, Hashable {
    public var foundation: String
    public var component: Int
    /// Lower case ("udp", "tcp").
    public var transport: String
    public var priority: UInt32
    /// An IP literal, or for an mDNS candidate (RFC 8839 §5.1, draft-ietf-mmusic-mdns-ice-candidates)
    /// the host name as written ("1f4c…b2.local"), which the agent ignores.
    public var address: STUNAddress
    public var type: ICECandidateType
    /// `raddr`/`rport` for reflexive and relayed candidates.
    public var related: STUNAddress?
    /// `tcptype` (active, passive, so) of a TCP candidate (RFC 6544), nil for UDP.
    public var tcpType: String?

    public init(foundation: String, component: Int = 1, transport: String = "udp", priority: UInt32, address: STUNAddress,
                type: ICECandidateType, related: STUNAddress? = nil, tcpType: String? = nil) {
        self.foundation = foundation
        self.component = component
        self.transport = transport
        self.priority = priority
        self.address = address
        self.type = type
        self.related = related
        self.tcpType = tcpType
    }
}

/// A datagram the agent (or the application through it) wants sent from the peer's socket.
public struct ICETransmit: Sendable, Equatable {
    public var datagram: [UInt8]
    public var destination: STUNAddress

    public init(datagram: [UInt8], destination: STUNAddress) {
        self.datagram = datagram
        self.destination = destination
    }
}

/// The agent's connection state, as RTCIceConnectionState names them.
public enum ICEConnectionState: String, Sendable, Equatable {
    case new, checking, connected, completed, disconnected, failed, closed
}

/// Something the agent's user should act on; drained with ``ICEAgent/takeEvents()``.
public enum ICEEvent: Sendable, Equatable {
    /// A new local candidate (trickle it to the peer).
    case localCandidate(ICECandidate)
    /// Every local candidate has been gathered (end-of-candidates).
    case gatheringComplete
    case stateChanged(ICEConnectionState)
    /// Application data now goes over this pair.
    case selectedPair(local: ICECandidate, remote: ICECandidate)
}

/// What to do with a received datagram.
public enum ICEReceiveResult: Sendable, Equatable {
    /// It was ICE's (STUN, TURN): send these replies, if any.
    case handled([ICETransmit])
    /// Application data (DTLS, SRTP) from the remote peer at `from` (unwrapped from TURN when relayed).
    case applicationData([UInt8], from: STUNAddress)
    /// Dropped: a STUN message failing integrity or fingerprint, or from no known party.
    case dropped(reason: String)
}

/// A TURN server to allocate a relayed candidate on (RFC 8656, UDP, long-term credentials).
public struct TURNServer: Sendable, Equatable {
    public var address: STUNAddress
    public var username: String
    public var password: String

    public init(address: STUNAddress, username: String, password: String) {
        self.address = address
        self.username = username
        self.password = password
    }
}

/// How the agent gathers and checks.
public struct ICEAgentOptions: Sendable {
    /// Server-reflexive candidate via a Binding request to this STUN server.
    public var stunServer: STUNAddress?
    /// Relayed candidate via an Allocate on this TURN server (RFC 8656 over UDP), started by
    /// ``ICEAgent/gatherRelayed()``.
    public var turnServer: TURNServer?
    /// Pacing of connectivity checks (RFC 8445 Ta).
    public var pacingMicros: Int64 = 50_000
    /// Consent freshness (RFC 7675): a check every ~5 s (randomised 0.8–1.2×); consent lost, and the
    /// state `failed`, after this long without a successful one.
    public var consentIntervalMicros: Int64 = 5_000_000
    public var consentTimeoutMicros: Int64 = 30_000_000
    /// No pair succeeds within this long after checks start: `failed`.
    public var checkingTimeoutMicros: Int64 = 30_000_000
    /// Connected, but no consent response for this long: `disconnected` (until one arrives).
    public var disconnectedTimeoutMicros: Int64 = 15_000_000
    /// Connectivity-check retransmissions (RFC 8489 §6.2.1): the first RTO, doubling up to the
    /// maximum, at most this many transmissions; the pair fails one RTO after the last.
    public var checkRTOMicros: Int64 = 250_000
    public var checkMaxRTOMicros: Int64 = 2_000_000
    public var checkMaxTransmissions = 7
    /// Controlling agent (regular nomination, RFC 8445 §8.1.1): nominate the best valid pair once
    /// no better pair is still being checked, or this long after the first pair succeeded.
    public var nominationDelayMicros: Int64 = 500_000
    /// At most this many candidate pairs (RFC 8445 §6.1.2.5); the lowest-priority unchecked ones go.
    public var maxPairs = 100

    public init(stunServer: STUNAddress? = nil, turnServer: TURNServer? = nil) {
        self.stunServer = stunServer
        self.turnServer = turnServer
    }
}
