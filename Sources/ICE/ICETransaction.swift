/// A STUN request the agent sent and awaits an answer to: when to retransmit it and when to give
/// up (RFC 8489 §6.2.1: RTO doubling at each retransmission, a fixed number of transmissions, then
/// one more RTO of waiting).
struct ICETransaction {
    enum Purpose: Equatable {
        /// A connectivity check on the pair of `path`, sent in `role`, nominating when `useCandidate`.
        case check(path: ICEPath, useCandidate: Bool, role: ICERole)
        /// A consent-freshness check (RFC 7675) on the selected pair.
        case consent(path: ICEPath)
        /// A Binding request to the STUN server for a server-reflexive candidate on `base`.
        case gather(base: ICECandidate)
        /// A request to the TURN server; `attempt` counts the times it was sent again after a
        /// 401 or 438 (new NONCE).
        case turn(TURNRequest, attempt: Int)
    }

    enum Step: Equatable {
        case send([UInt8])
        case timeout
    }

    let purpose: Purpose
    /// The STUN message; on a relayed path it is wrapped for the relay at each transmission.
    let datagram: [UInt8]
    /// Where it goes, and where the response must come from.
    let path: ICEPath
    /// The key that authenticates the response (the remote password, or the TURN long-term key);
    /// nil for the STUN server and unauthenticated TURN requests.
    let responseKey: [UInt8]?
    /// When the next step is due: a (re)transmission, or giving up.
    private(set) var dueMicros: Int64
    private(set) var transmissions = 0
    private var rto: Int64
    private let maxRTO: Int64
    private let maxTransmissions: Int
    private let giveUpMicros: Int64
    /// No more retransmissions; a response still counts but silence is no failure (§7.2.5.4).
    private(set) var cancelled = false

    /// A transaction whose first transmission is due at `nowMicros`.
    init(purpose: Purpose, datagram: [UInt8], path: ICEPath, responseKey: [UInt8]?, nowMicros: Int64,
         rto: Int64, maxRTO: Int64, maxTransmissions: Int, giveUpAfter: Int64 = .max) {
        self.purpose = purpose
        self.datagram = datagram
        self.path = path
        self.responseKey = responseKey
        self.dueMicros = nowMicros
        self.rto = max(1, rto)
        self.maxRTO = max(rto, maxRTO)
        self.maxTransmissions = max(1, maxTransmissions)
        self.giveUpMicros = giveUpAfter == .max ? .max : nowMicros + giveUpAfter
    }

    /// What is due at `nowMicros`, if anything, and the schedule moved past it.
    mutating func step(nowMicros: Int64) -> Step? {
        guard nowMicros >= dueMicros else { return nil }
        if cancelled || transmissions >= maxTransmissions || nowMicros >= giveUpMicros { return .timeout }
        if transmissions > 0 { rto = rto > maxRTO / 2 ? maxRTO : rto * 2 }
        transmissions += 1
        dueMicros = min(nowMicros + rto, giveUpMicros)
        return .send(datagram)
    }

    mutating func cancel() {
        cancelled = true
    }
}
