import DTLS
import Foundation
import Jobs
import Logging
import NIOCore
import NIOPosix
import Peer
import WHIP

/// How a live room takes publishers.
public struct LiveRoomOptions: Sendable {
    /// The room name publishers use in `POST /whip/{room}`.
    public var room: String
    /// Where raw captures go (one pcap per participant).
    public var captureFolder: String
    /// Where captured packets also go, to make the outputs while recording.
    public var liveOutputs: LiveOutputs?
    /// The address UDP sockets bind (`0.0.0.0`: all IPv4 interfaces).
    public var bindHost = "0.0.0.0"
    /// UDP ports for publishers' sockets (one each); nil: any free port.
    public var udpPorts: ClosedRange<Int>?
    /// The host candidates announced: these addresses with each socket's port.
    public var candidateHosts: [String]
    public var peer = PeerOptions()
    /// More publishers than this at once get `503`.
    public var maxParticipants = 16

    public init(room: String, captureFolder: String, candidateHosts: [String]) {
        self.room = room
        self.captureFolder = captureFolder
        self.candidateHosts = candidateHosts
    }
}

/// A room being recorded live: each WHIP publisher becomes a participant with its own
/// ``PeerSession``. Tracks who is present, so the recording can stop when the room empties.
public actor LiveRoom: WHIPBackend {
    private let options: LiveRoomOptions
    private let group: any EventLoopGroup
    private let certificate: DTLSCertificate
    private let logger: Logger
    private var sessions: [String: PeerSession] = [:]
    private var finished: [PeerSessionSummary] = []
    private var nextNumber = 1
    private var accepting = true
    /// Since when nobody has been publishing (monotonic µs; the start until the first publisher), nil while someone is.
    public private(set) var emptySinceMicros: Int64? = LiveClock.monotonicMicros()

    /// `logger` hears of each publisher that connects and leaves (participant and connection as metadata).
    public init(options: LiveRoomOptions, group: any EventLoopGroup, logger: Logger = .silent) throws {
        self.options = options
        self.group = group
        self.logger = logger
        certificate = try DTLSCertificate.generate()
        try createOutputFolder(options.captureFolder)
    }

    /// Participants present now.
    public var participantCount: Int { sessions.count }

    public func createSession(room: String, offer: String, remoteAddress: String?) async throws -> WHIPSessionCreated {
        guard room == options.room else { throw WHIPError.notFound("this recorder records room '\(options.room)', not '\(room)'") }
        guard accepting else { throw WHIPError.unavailable("the recording is finishing") }
        guard sessions.count < options.maxParticipants else {
            throw WHIPError.unavailable("room is full (\(options.maxParticipants) publishers)", retryAfter: 10)
        }
        let number = nextNumber
        nextNumber += 1
        let participant = "p\(number)"
        let id = String(format: "%@-%08x", participant, UInt32.random(in: 0...UInt32.max))
        let session: PeerSession
        do {
            session = try await PeerSession.open(
                id: id, participant: participant, offer: offer, group: group, bindHost: options.bindHost, ports: options.udpPorts,
                hostAddresses: options.candidateHosts, certificate: certificate, options: options.peer,
                captureFolder: options.captureFolder, liveOutputs: options.liveOutputs,
                onConnected: { [logger] remote in
                    logger.info("publisher connected", metadata: ["participant": "\(participant)", "connection": "\(id)",
                                                                  "remote": "\(remote ?? "")"])
                },
                onFailure: { [weak self] _ in Task { await self?.drop(id) } })
        } catch let error as PeerError {
            throw WHIPError.badRequest(error.description)
        }
        sessions[id] = session
        emptySinceMicros = nil
        logger.info("publisher offered", metadata: ["participant": "\(participant)", "connection": "\(id)",
                                                    "http_remote": "\(remoteAddress ?? "")"])
        return WHIPSessionCreated(session: id, answer: session.answer, etag: "\"\(id)\"")
    }

    public func updateSession(room: String, session: String, fragment: WHIPFragment) async throws -> String? {
        guard room == options.room, let peer = sessions[session] else { throw WHIPError.notFound("no session \(session) in room '\(room)'") }
        var answer: String?
        if let remote = await peer.currentRemoteUfrag(), fragment.isICERestart(currentUfrag: remote) {
            guard let ufrag = fragment.ufrag, let pwd = fragment.pwd else { throw WHIPError.badRequest("ICE restart without a=ice-pwd") }
            answer = try await peer.restartICE(ufrag: ufrag, pwd: pwd)
        }
        peer.addRemoteCandidates(fragment.candidates.map(\.value))
        return answer
    }

    public func deleteSession(room: String, session: String) async throws {
        // The room in the path must be the session's: a session id of another room is not found.
        guard room == options.room, sessions[session] != nil else { throw WHIPError.notFound("no session \(session) in room '\(room)'") }
        await drop(session)
    }

    /// Stops taking publishers, closes every session and returns what each one did.
    public func finish() async -> [PeerSessionSummary] {
        accepting = false
        for id in Array(sessions.keys) { await drop(id) }
        return finished.sorted { $0.joinedMicros < $1.joinedMicros }
    }

    /// Asks every publisher for a keyframe.
    public func requestKeyframes() {
        for session in sessions.values { session.requestKeyframes() }
    }

    /// Summaries of everyone so far (present and gone).
    public func summaries() async -> [PeerSessionSummary] {
        var all = finished
        for session in sessions.values { all.append(await session.currentSummary()) }
        return all.sorted { $0.joinedMicros < $1.joinedMicros }
    }

    private func drop(_ id: String) async {
        guard let session = sessions.removeValue(forKey: id) else { return }
        let summary = await session.close()
        finished.append(summary)
        let metadata: Logger.Metadata = ["participant": "\(summary.participant ?? "")", "connection": "\(id)", "packets": .stringConvertible(summary.rtpPackets)]
        if let failure = summary.failure {
            logger.warning("publisher connection failed: \(failure)", metadata: metadata)
        } else {
            logger.info("publisher left", metadata: metadata)
        }
        if sessions.isEmpty { emptySinceMicros = LiveClock.monotonicMicros() }
    }
}
