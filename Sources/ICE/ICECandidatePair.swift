/// How a datagram reaches a remote transport address or came from it: straight from the driver's
/// socket, or through the TURN relay (wrapped in a Send indication or ChannelData).
struct ICEPath: Hashable, CustomStringConvertible {
    var remote: STUNAddress
    var relayed: Bool

    var description: String { relayed ? "\(remote) (relayed)" : remote.description }
}

/// One pair of the checklist (RFC 8445 §6.1.2): a local and a remote candidate and where its
/// connectivity check stands. The agent keeps at most two pairs per remote address, one per
/// ``ICEPath``: every host and server-reflexive candidate shares the driver's one socket, so pairs
/// differing only in those local candidates are redundant (§6.1.2.4, same base) and the
/// highest-priority host candidate stands for them all; the relayed candidate has its own base.
struct ICECandidatePair {
    enum State: Equatable {
        case frozen, waiting, inProgress, succeeded, failed
    }

    var local: ICECandidate
    var remote: ICECandidate
    var state: State = .frozen
    /// §6.1.2.3, for the agent's current role.
    var priority: UInt64 = 0
    /// Controlled agent: a check carrying USE-CANDIDATE arrived on this pair, so it is nominated
    /// as soon as it is valid (a check of ours on it succeeds).
    var nominateOnSuccess = false

    init(local: ICECandidate, remote: ICECandidate, role: ICERole) {
        self.local = local
        self.remote = remote
        updatePriority(role: role)
    }

    /// Where its checks go: to the remote candidate, through the relay when the local one is relayed.
    var path: ICEPath { ICEPath(remote: remote.address, relayed: local.type == .relayed) }

    /// Pairs with equal foundations are expected to behave alike (the frozen algorithm, §6.1.2.6).
    var foundation: String { local.foundation + "/" + remote.foundation }

    /// In the valid list: a check we sent on it succeeded.
    var isValid: Bool { state == .succeeded }

    /// Still to be checked, or being checked.
    var isPending: Bool { state == .frozen || state == .waiting || state == .inProgress }

    mutating func updatePriority(role: ICERole) {
        priority = role == .controlling
            ? Self.priority(controlling: local.priority, controlled: remote.priority)
            : Self.priority(controlling: remote.priority, controlled: local.priority)
    }

    /// 2^32 × min(G, D) + 2 × max(G, D) + (G > D ? 1 : 0), G the controlling agent's candidate
    /// priority and D the controlled one's (RFC 8445 §6.1.2.3).
    static func priority(controlling g: UInt32, controlled d: UInt32) -> UInt64 {
        UInt64(min(g, d)) << 32 + 2 * UInt64(max(g, d)) + (g > d ? 1 : 0)
    }
}
