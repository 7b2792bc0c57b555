/// A STUN request the agent sent and awaits an answer to: when to retransmit it and when to give
/// up (RFC 8489 §6.2.1: RTO doubling at each retransmission, a fixed number of transmissions, then
/// one more RTO of waiting).
struct ICETransaction {
    enum Purpose: Equatable {
        /// A connectivity check on the pair towards `remote`, sent in `role`, nominating when `useCandidate`.
        case check(remote: STUNAddress, useCandidate: Bool, role: ICERole)
        /// A consent-freshness check (RFC 7675) on the selected pair.
        case consent(remote: STUNAddress)
        /// A Binding request to the STUN server for a server-reflexive candidate on `base`.
        case gather(base: ICECandidate)
    }

    enum Step: Equatable {
        case send([UInt8])
        case timeout
    }

    let purpose: Purpose
    let datagram: [UInt8]
    let destination: STUNAddress
    /// The password that authenticates the response (the remote one); nil for the STUN server.
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
    init(purpose: Purpose, datagram: [UInt8], destination: STUNAddress, responseKey: [UInt8]?, nowMicros: Int64,
         rto: Int64, maxRTO: Int64, maxTransmissions: Int, giveUpAfter: Int64 = .max) {
        self.purpose = purpose
        self.datagram = datagram
        self.destination = destination
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
