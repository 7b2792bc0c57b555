/// What the follower tells its owner.
public enum JanusEvent: Sendable, Equatable {
    /// The watcher joined the room (its participant id); start-up is complete.
    case joined(room: JanusRoomID, participantID: JanusFeedID)
    /// The room's publishers, whenever the set or one of them changed (and once after each join).
    case publishers([JanusPublisher])
    /// Janus offers the subscription's SDP: answer it with `answer(sdp:)`. After `.sessionReset` or
    /// `.hangup`, the next offer is for a new PeerConnection; otherwise it renegotiates the current one.
    case offer(sdp: String, streams: [JanusSubscribedStream])
    /// A candidate Janus trickled for the subscription.
    case remoteCandidate(mid: String?, sdpMLineIndex: Int?, candidate: String)
    /// Janus has trickled all its candidates.
    case endOfCandidates
    /// The subscription's PeerConnection is up (ICE and DTLS done).
    case webrtcUp
    /// Janus started or stopped receiving on one of our m-lines (`media` event).
    case media(mid: String?, type: String, receiving: Bool)
    /// Janus reports losses on one of our m-lines (`slowlink` event).
    case slowLink(mid: String?, uplink: Bool, lost: Int)
    /// The subscription's PeerConnection is gone; the follower subscribes again on a new handle,
    /// so a new offer follows while publishers exist.
    case hangup(reason: String)
    /// The room was destroyed; the follower stops.
    case roomDestroyed
    /// A moderator kicked the watcher out of the room; the follower stops.
    case kicked
    /// The session was lost (a reconnect whose claim failed, or a session timeout) and a new one is
    /// being set up: the current PeerConnection is dead, a new offer follows.
    case sessionReset
    /// A request Janus refused that does not stop the follower (e.g. a subscription change).
    case warning(code: Int, reason: String)
    /// A Janus or videoroom error that stops the follower (e.g. 426 no such room, 433 unauthorized
    /// or wrong pin, 458 no such session at start-up). Code 0: no answer in time.
    case error(code: Int, reason: String)
    /// The transport dropped and could not be restored (final).
    case connectionLost(reason: String)
}
