/// Counters of an ``ICEAgent``, for logs and tests.
public struct ICEAgentStats: Sendable, Equatable {
    /// Connectivity checks sent (first transmissions; consent checks not included).
    public var checksSent = 0
    /// Retransmissions of checks and of STUN-server requests.
    public var retransmissions = 0
    /// Authenticated Binding requests received.
    public var checksReceived = 0
    /// Authenticated responses to our checks.
    public var responsesReceived = 0
    /// STUN requests or responses failing FINGERPRINT or MESSAGE-INTEGRITY, or with an unknown ufrag.
    public var integrityFailures = 0
    /// Binding requests lacking USERNAME, MESSAGE-INTEGRITY or PRIORITY (answered 400).
    public var badRequests = 0
    /// STUN datagrams that did not parse, or responses to no transaction of ours.
    public var malformed = 0
    /// Role conflicts detected, in requests (§7.3.1.1) or as 487 responses (§7.2.5.1).
    public var roleConflicts = 0
    /// Remote candidates the agent does not use: TCP, component ≠ 1, mDNS names, duplicates.
    public var remoteCandidatesSkipped = 0
    /// Peer-reflexive remote candidates learned from checks.
    public var peerReflexiveLearned = 0
    /// Pairs whose checks got no (or an error) response.
    public var pairsFailed = 0
    /// Pairs not added because the checklist was full.
    public var pairsDropped = 0
    /// Consent-freshness checks on the selected pair (RFC 7675), and their successful responses.
    public var consentChecksSent = 0
    public var consentResponses = 0
    /// Non-STUN datagrams from an address that never authenticated itself.
    public var applicationDataDropped = 0

    // MARK: TURN (RFC 8656)

    /// TURN requests sent (first transmissions; retransmissions count in `retransmissions`).
    public var turnRequestsSent = 0
    /// Allocations granted, and allocations given up (no answer, an error, a malformed success):
    /// gathering then completes without a relayed candidate.
    public var turnAllocations = 0
    public var turnAllocationFailures = 0
    /// Error responses other than the 401/438 challenges answered with new credentials.
    public var turnErrorResponses = 0
    /// TURN requests that got no answer after all their transmissions.
    public var turnTimeouts = 0
    /// Successful Refresh, CreatePermission and ChannelBind responses.
    public var turnRefreshes = 0
    public var turnPermissions = 0
    public var turnChannelBinds = 0
    /// The allocation was released (a Refresh with lifetime 0 answered) after `close()`.
    public var turnReleases = 0
    /// Datagrams sent through the relay (Send indications, ChannelData) and received from it
    /// (Data indications, ChannelData).
    public var relayedSent = 0
    public var relayedReceived = 0
    /// ChannelData on a channel we did not bind, Data indications without a peer or data.
    public var relayedDropped = 0

    public init() {}
}
