/// Module `Soak`: runs the live recording path for a long time on a virtual clock and watches this
/// process's memory. Publishers (``LoopbackPublisher``) send looped synthetic media through an
/// in-memory network (latency, loss, reordering) to ``RecordingPeer``s (ICE, DTLS, SRTP, NACK/RTX,
/// reports), whose packets go to the captures and to ``LiveOutputs`` (composite and per-participant
/// WebM while recording) exactly as in `flowrec record`.
import DTLS
import Foundation
import ICE
import Jobs
import Live
import LoopbackPeer
import Media
import Peer
import Pipeline
import SeededRandom

/// What a soak run does.
public struct SoakOptions: Sendable {
    /// Publishers at once.
    public var publishers = 3
    /// Virtual seconds to run.
    public var seconds = 3600
    /// Memory is sampled every this many virtual seconds.
    public var sampleEverySeconds = 60
    /// Where the captures (`soak.capture/`) and the outputs (`soak.webm`, `soak.<participant>.webm`) go.
    public var out: String
    /// The publishers' video: size, rate, bitrate; the loop (one keyframe at its start) is this long.
    public var width = 320
    public var height = 180
    public var fps = 15
    public var videoKbps = 150
    public var loopSeconds = 4
    /// The composite: a small grid.
    public var compositeWidth = 320
    public var compositeHeight = 180
    public var compositeFPS = 10
    /// One-way delay of the network, and the share of media packets lost (repaired by NACK/RTX for
    /// video) and delivered late (after later ones).
    public var latencyMicros: Int64 = 15_000
    public var loss = 0.01
    public var reorder = 0.01
    /// Every this many virtual seconds the publisher connected longest leaves, and comes back
    /// `rejoinAfterSeconds` later as a new connection and participant (as a WHIP publisher that
    /// reconnects); nil: everyone stays.
    public var rejoinEverySeconds: Int? = 600
    public var rejoinAfterSeconds = 10
    /// Packets the live outputs hold at most; the driver waits for the worker beyond that.
    public var maxQueuedPackets = 2_000
    /// Seeds the network's loss and reordering and the publishers' SSRCs.
    public var seed: UInt64 = 1
    /// From this virtual second on (at its media loop's next start), the first publisher's keyframe
    /// headers declare this picture size: a hostile sender, for the picture bound.
    public var declaredPicture: (fromSeconds: Int, size: PictureSize)?
    /// The outputs' picture bound (`--max-picture`).
    public var maxPicture = PictureSizeLimit.standard

    public init(out: String) { self.out = out }
}

/// What a soak run measured (printed as JSON by `flowrec soak`).
public struct SoakReport: Sendable, Codable {
    /// Taken every ``SoakOptions/sampleEverySeconds`` of virtual time.
    public struct Sample: Sendable, Codable {
        public var virtualSeconds: Int
        /// This process's resident memory (`/proc/self/statm`).
        public var rssKiB: Int
        /// Since the run began.
        public var wallSeconds: Double
        /// Packets written to the captures so far, and the composite's media time written so far.
        public var capturedPackets: Int
        public var outputSeconds: Double
    }

    /// What one publisher (one connection) did, in the order they joined.
    public struct Publisher: Sendable, Codable {
        public var participant: String
        /// RTP media packets and RTCP sender reports sent (those the network dropped included).
        public var rtpSent = 0
        public var rtcpSent = 0
        /// Original media packets the network dropped (video ones come back through RTX).
        public var dropped = 0
        /// RTX packets sent in answer to NACKs, and keyframe requests received.
        public var retransmitted = 0
        public var plisReceived = 0
        /// Virtual seconds from the start; `leftSeconds` nil for those there at the end.
        public var joinedSeconds: Double
        public var leftSeconds: Double?
    }

    public var virtualSeconds: Int
    public var samples: [Sample] = []
    /// Resident memory after the first virtual minute (the first sample) and at the end of the
    /// virtual time (before the files are finalised), and their ratio.
    public var minuteOneRSSKiB = 0
    public var endRSSKiB = 0
    public var ratio = 0.0
    /// After the outputs were finalised.
    public var finishedRSSKiB = 0
    /// The most resident memory the process had at any time (`VmHWM`), read at the end.
    public var peakRSSKiB = 0
    /// Wall time and CPU time (every thread) of the run, media encoding at the start excluded.
    public var wallSeconds = 0.0
    public var cpuSeconds = 0.0
    public var publishers: [Publisher] = []
    /// The recorder's side of each connection (same order as `publishers`).
    public var sessions: [PeerSessionSummary] = []
    /// The composite and the per-participant files, and what finishing them warned about.
    public var outputs: [OutputFile] = []
    public var warnings: [String] = []
    /// Why the live outputs were given up, if they were.
    public var outputsFailure: String?
}

/// The soak driver: see the module's description. Single-threaded but for the live outputs' worker.
public final class SoakRun {
    private let options: SoakOptions
    private let media: LoopedMedia
    private let certificate: DTLSCertificate
    private let outputs: LiveOutputs
    private let clock = SettableClock()
    private let captureFolder: String
    private var rng: SplitMix64
    /// Publishers connected now, and what the gone ones counted (their connections are let go, as
    /// ``LiveRoom`` lets go of a session that ended).
    private var connections: [Connection] = []
    private var gone: [(number: Int, session: PeerSessionSummary, publisher: SoakReport.Publisher)] = []
    private var connectionCount = 0
    private var network = Network()
    private var report: SoakReport
    private var nextParticipant = 1

    /// The virtual clock starts here (µs); the capture clock is it plus `wallOffsetMicros`.
    private static let startMicros: Int64 = 1_000_000
    private static let wallOffsetMicros: Int64 = 1_767_225_600_000_000

    /// Encodes the publishers' media loop and starts the live outputs.
    public init(options: SoakOptions) throws {
        self.options = options
        media = try LoopedMedia(participants: options.publishers, seconds: options.loopSeconds, width: options.width,
                                height: options.height, fps: options.fps, videoKbps: options.videoKbps,
                                declaring: options.declaredPicture?.size)
        certificate = try DTLSCertificate.generate()
        rng = SplitMix64(seed: options.seed)
        captureFolder = options.out + "/soak.capture"
        try FileManager.default.createDirectory(atPath: captureFolder, withIntermediateDirectories: true)
        var video = VideoConfig()
        video.width = options.compositeWidth
        video.height = options.compositeHeight
        video.fps = options.compositeFPS
        video.bitrateKbps = 200
        video.threads = 1
        video.keyframeInterval = options.compositeFPS * 5
        var pipeline = PipelineConfig(name: "soak", composite: CompositeConfig(video: video, audio: AudioConfig()), tracks: true)
        pipeline.maxPicture = options.maxPicture
        let clock = clock
        outputs = LiveOutputs(out: OutputLocation(options.out + "/soak.webm"), pipeline: pipeline, overwrite: true,
                              maxQueuedPackets: options.maxQueuedPackets, blockWhenFull: true,
                              clock: { clock.micros + SoakRun.wallOffsetMicros })
        report = SoakReport(virtualSeconds: options.seconds)
    }

    /// Runs the whole virtual time, finalises the files and returns what was measured.
    public func run() throws -> SoakReport {
        let wallStart = ContinuousClock.now
        let cpuStart = ProcessStats.current().cpuSeconds ?? 0
        let start = Self.startMicros
        let end = start + Int64(options.seconds) * 1_000_000
        for participant in 0..<options.publishers { try join(participant, now: start) }
        let churn = options.rejoinEverySeconds.map { Int64($0) * 1_000_000 }
        var nextLeave = churn.map { start + $0 }
        /// Who comes back when: the media of the publisher that left.
        var rejoins: [(at: Int64, mediaIndex: Int)] = []
        var nextSample = start + Int64(options.sampleEverySeconds) * 1_000_000
        var now = start
        while now < end {
            now = min(end, nextEvent(after: now, also: [nextSample, nextLeave, rejoins.first?.at]))
            clock.micros = now
            deliverDue(now: now)
            for connection in connections { try step(connection, now: now) }
            for connection in connections where connection.isClosed { gone.append((connection.number, connection.recorder.summary, connection.counts)) }
            connections.removeAll { $0.isClosed }
            if let leaveAt = nextLeave, now >= leaveAt, now < end, let churn {
                nextLeave = leaveAt + churn
                if let first = connections.first(where: { $0.leavingAt == nil }) {
                    leave(first, now: now)
                    rejoins.append((now + Int64(options.rejoinAfterSeconds) * 1_000_000, first.mediaIndex))
                }
            }
            while let rejoin = rejoins.first, now >= rejoin.at {
                rejoins.removeFirst()
                try join(rejoin.mediaIndex, now: now)
            }
            if now >= nextSample || now >= end {
                sample(now: now, wallStart: wallStart)
                nextSample += Int64(options.sampleEverySeconds) * 1_000_000
            }
        }
        report.minuteOneRSSKiB = report.samples.first?.rssKiB ?? 0
        report.endRSSKiB = report.samples.last?.rssKiB ?? 0
        report.ratio = report.minuteOneRSSKiB > 0 ? Double(report.endRSSKiB) / Double(report.minuteOneRSSKiB) : 0
        for connection in connections {
            connection.close(wallMicros: now + Self.wallOffsetMicros)
            gone.append((connection.number, connection.recorder.summary, connection.counts))
        }
        connections = []
        gone.sort { $0.number < $1.number }
        report.sessions = gone.map(\.session)
        report.publishers = gone.map(\.publisher)
        do {
            (report.outputs, report.warnings) = try outputs.finish()
        } catch {
            report.outputsFailure = "\(error)"
        }
        report.finishedRSSKiB = (ProcessStats.current().residentMemoryBytes ?? 0) / 1024
        report.peakRSSKiB = Self.peakResidentKiB() ?? 0
        report.wallSeconds = (ContinuousClock.now - wallStart).seconds
        report.cpuSeconds = (ProcessStats.current().cpuSeconds ?? 0) - cpuStart
        return report
    }

    /// `VmHWM` of `/proc/self/status`: the peak resident memory, KiB.
    private static func peakResidentKiB() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
        return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
    }

    // MARK: - Events

    /// The earliest thing to do after `now` (at least 1 µs later, so the loop always moves).
    private func nextEvent(after now: Int64, also extra: [Int64?]) -> Int64 {
        var next = extra.compactMap { $0 }.min() ?? .max
        if let delivery = network.nextMicros { next = min(next, delivery) }
        for connection in connections { next = min(next, connection.nextMicros(media)) }
        return max(now + 1, next)
    }

    /// Hands every datagram whose time has come to its side, and what that side answers to the network.
    private func deliverDue(now: Int64) {
        while let datagram = network.takeDue(now: now) {
            guard let connection = connections.first(where: { $0.number == datagram.connection }), !connection.isClosed else { continue }
            if datagram.toRecorder {
                let replies = connection.recorder.receive(datagram.bytes, from: connection.publisher.address, nowMicros: now)
                send(replies, of: connection, toRecorder: false, now: now)
                connection.recorderWake = connection.recorder.wakeMicros(now: now)
            } else {
                let replies = connection.publisher.receive(datagram.bytes, from: connection.recorderAddress, now: now)
                send(replies, of: connection, toRecorder: true, now: now)
                connection.noteFeedback()
                connection.publisherWake = connection.publisher.nextDeadlineMicros ?? .max
            }
        }
    }

    /// The timers of both sides, and the media that is due.
    private func step(_ connection: Connection, now: Int64) throws {
        if connection.publisherWake <= now {
            send(connection.publisher.poll(now: now), of: connection, toRecorder: true, now: now)
            connection.publisherWake = max(now + 1_000, connection.publisher.nextDeadlineMicros ?? .max)
        }
        if connection.recorderWake <= now {
            send(connection.recorder.poll(nowMicros: now), of: connection, toRecorder: false, now: now)
            connection.recorderWake = connection.recorder.wakeMicros(now: now)
        }
        if connection.leavingAt.map({ now >= $0 }) == true {
            connection.close(wallMicros: now + Self.wallOffsetMicros)
            return
        }
        if connection.cursor == nil, connection.publisher.isConnected, connection.leavingAt == nil {
            connection.cursor = LoopedMedia.Cursor(media: media, participant: connection.mediaIndex, audioSSRC: connection.publisher.streams.audioSSRC,
                                                   videoSSRC: connection.publisher.streams.videoSSRC, startMicros: now,
                                                   declaringFromMicros: options.declaredPicture.map { Self.startMicros + Int64($0.fromSeconds) * 1_000_000 })
        }
        while var cursor = connection.cursor, cursor.nextMicros(media) <= now {
            let packet = cursor.next(media, wallMicros: now + Self.wallOffsetMicros)
            connection.cursor = cursor
            let transmit = packet.isRTCP ? connection.publisher.send(rtcp: packet.bytes) : connection.publisher.send(rtp: packet.bytes)
            if packet.isRTCP { connection.counts.rtcpSent += 1 } else { connection.counts.rtpSent += 1 }
            if !packet.isRTCP, Double.random(in: 0..<1, using: &rng) < options.loss {
                connection.counts.dropped += 1
                continue
            }
            send(transmit.map { [$0] } ?? [], of: connection, toRecorder: true, now: now, mayReorder: !packet.isRTCP)
        }
    }

    private func send(_ transmits: [ICETransmit], of connection: Connection, toRecorder: Bool, now: Int64, mayReorder: Bool = false) {
        for transmit in transmits {
            var at = now + options.latencyMicros
            if mayReorder, Double.random(in: 0..<1, using: &rng) < options.reorder { at += Int64.random(in: 15_000...40_000, using: &rng) }
            network.add(at: at, connection: connection.number, toRecorder: toRecorder, bytes: transmit.datagram)
        }
    }

    // MARK: - Publishers coming and going

    /// A new publisher (a new connection and participant, as WHIP numbers them) sending the media of synthetic participant `mediaIndex`.
    private func join(_ mediaIndex: Int, now: Int64) throws {
        let index = connectionCount
        connectionCount += 1
        let participant = "p\(nextParticipant)"
        nextParticipant += 1
        var streams = LoopbackPublisher.Streams()
        streams.audioSSRC = UInt32.random(in: 1...UInt32.max, using: &rng)
        streams.videoSSRC = UInt32.random(in: 1...UInt32.max, using: &rng)
        streams.rtxSSRC = UInt32.random(in: 1...UInt32.max, using: &rng)
        let publisher = try LoopbackPublisher(address: STUNAddress(ip: "10.0.1.\(2 + index)", port: 5000),
                                              credentials: ICECredentials(ufrag: "pub\(index)", pwd: "soakpublisherpassword\(1000 + index)"),
                                              streams: streams)
        let recorderAddress = STUNAddress(ip: "10.0.0.1", port: UInt16(6000 + index))
        let recorder = try RecordingPeer(id: participant, participant: participant, offer: publisher.offer(), hostAddresses: [recorderAddress],
                                         certificate: certificate, options: PeerOptions(), captureFolder: captureFolder, liveOutputs: outputs,
                                         nowMicros: now, wallOffsetMicros: Self.wallOffsetMicros)
        try publisher.accept(answer: recorder.answer)
        let connection = Connection(number: index, mediaIndex: mediaIndex, participant: participant, publisher: publisher,
                                    recorder: recorder, recorderAddress: recorderAddress,
                                    joinedSeconds: Double(now - Self.startMicros) / 1_000_000)
        connection.recorderWake = now
        connection.publisherWake = now
        connections.append(connection)
    }

    /// The publisher says goodbye (RTCP BYE, DTLS close_notify); the recorder closes its side a
    /// moment later, as a WHIP `DELETE` would.
    private func leave(_ connection: Connection, now: Int64) {
        send(connection.publisher.close(), of: connection, toRecorder: true, now: now)
        connection.cursor = nil
        connection.leavingAt = now + 100_000
        connection.counts.leftSeconds = Double(now - Self.startMicros) / 1_000_000
    }

    private func sample(now: Int64, wallStart: ContinuousClock.Instant) {
        let captured = (connections.map(\.recorder.summary) + gone.map(\.session)).reduce(0) { $0 + $1.captures.reduce(0) { $0 + $1.packets } }
        report.samples.append(SoakReport.Sample(virtualSeconds: Int((now - Self.startMicros) / 1_000_000),
                                                rssKiB: (ProcessStats.current().residentMemoryBytes ?? 0) / 1024,
                                                wallSeconds: (ContinuousClock.now - wallStart).seconds, capturedPackets: captured,
                                                outputSeconds: outputs.progress.mediaSeconds))
    }
}

/// One publisher's connection to the recorder.
private final class Connection {
    /// The connection's number in the run (its addresses and network route).
    let number: Int
    /// Which synthetic participant's media it sends.
    let mediaIndex: Int
    let publisher: LoopbackPublisher
    let recorder: RecordingPeer
    let recorderAddress: STUNAddress
    var cursor: LoopedMedia.Cursor?
    var publisherWake: Int64 = .max
    var recorderWake: Int64 = .max
    /// When the recorder closes its side (after the publisher said goodbye).
    var leavingAt: Int64?
    var counts: SoakReport.Publisher

    init(number: Int, mediaIndex: Int, participant: String, publisher: LoopbackPublisher, recorder: RecordingPeer,
         recorderAddress: STUNAddress, joinedSeconds: Double) {
        self.number = number
        self.mediaIndex = mediaIndex
        self.publisher = publisher
        self.recorder = recorder
        self.recorderAddress = recorderAddress
        counts = SoakReport.Publisher(participant: participant, joinedSeconds: joinedSeconds)
    }

    var isClosed: Bool { recorder.isClosed }

    func nextMicros(_ media: LoopedMedia) -> Int64 {
        min(publisherWake, recorderWake, leavingAt ?? .max, cursor?.nextMicros(media) ?? .max)
    }

    /// Counts the feedback the publisher received and lets it go (it would grow for ever).
    func noteFeedback() {
        counts.plisReceived += publisher.feedback.count { if case .pictureLossIndication = $0 { true } else { false } }
        counts.retransmitted = publisher.retransmitted
        publisher.feedback.removeAll(keepingCapacity: true)
    }

    func close(wallMicros: Int64) {
        _ = recorder.close(wallMicros: wallMicros)
        counts.retransmitted = publisher.retransmitted
    }
}

/// Datagrams on their way, each delivered at its time (ties in sending order).
private struct Network {
    struct Datagram {
        var at: Int64
        var order: Int
        var connection: Int
        var toRecorder: Bool
        var bytes: [UInt8]
    }

    private var inFlight: [Datagram] = []
    private var sent = 0

    mutating func add(at: Int64, connection: Int, toRecorder: Bool, bytes: [UInt8]) {
        inFlight.append(Datagram(at: at, order: sent, connection: connection, toRecorder: toRecorder, bytes: bytes))
        sent += 1
    }

    var nextMicros: Int64? { inFlight.lazy.map(\.at).min() }

    /// The earliest datagram due by `now`, taken out.
    mutating func takeDue(now: Int64) -> Datagram? {
        var best: Int?
        for i in inFlight.indices where inFlight[i].at <= now {
            if let b = best, (inFlight[b].at, inFlight[b].order) <= (inFlight[i].at, inFlight[i].order) { continue }
            best = i
        }
        return best.map { inFlight.remove(at: $0) }
    }
}
