import ArgumentParser
import Dispatch
import Foundation
import IPAddress
import ICE
import Janus
import Jobs
import Live
import Logging
import Media
import Peer
import Pipeline

/// `flowrec record (--whip [HOST:]PORT | --janus URL) --room ROOM --out DIR`: record a room live.
struct Record: LoggingCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record a room live: WHIP publishers send straight to flowrec, or flowrec joins a Janus videoroom.",
        discussion: """
        --whip: every publisher that POSTs an SDP offer to http://HOST:PORT/whip/ROOM becomes a participant. \
        --janus: flowrec joins videoroom ROOM as a silent participant (it never publishes) and subscribes to \
        every publisher, following joins and leaves. Each participant's decrypted packets go to \
        DIR/<base>.capture/<participant>.pcap (synced every second). While recording, the same packets become \
        DIR/<base>.webm (the composite of --pipeline) and, with --tracks, DIR/<base>.<participant>.webm, two \
        seconds behind (as .partial files); when the recording stops (--duration, --stop-when-empty, the room is \
        destroyed, SIGINT, SIGTERM or SIGHUP) they are finalised within a few seconds, and DIR/<base>.json describes the \
        recording. If the outputs cannot keep up, or with --outputs-after-stop, they are made from the captures \
        after the stop. <base> is ROOM-<UTC start>, or --name.
        Exit codes: 0 planned stop (duration, empty room, size limit, room closed); 64 usage error; 69 the room or server \
        cannot be reached, or was lost during the recording; 73 output exists; 74 I/O error or disk full (files finalised); \
        75 another run holds the lock; 130 stopped by SIGINT/SIGTERM/SIGHUP (files finalised).
        """)

    @Option(help: "Take WHIP publishers on PORT or HOST:PORT (default host 0.0.0.0).") var whip: String?
    @Option(help: "Record a Janus videoroom: ws://HOST:8188 (WebSocket) or http://HOST:8088/janus.") var janus: String?
    @Option(help: "Room: the WHIP room name, or the Janus room id (number or string).") var room: String
    @Option(help: "Output folder.") var out: String
    @Option(help: "Pipeline preset name or YAML file (default grid-720p).") var pipeline: String?
    @Flag(help: "Also write one WebM per participant.") var tracks = false
    @Option(help: ArgumentHelp(segmentHelp, valueName: "duration")) var segment: String?
    @Option(help: ArgumentHelp(maxPictureHelp, valueName: "WxH")) var maxPicture: String?
    @Option(help: "File name base: a template with {room}, {start} and {start:STRFTIME} (UTC); default {room}-{start}.")
    var name = "{room}-{start}"
    @Option(help: "Stop after this long, e.g. 60s, 15m, 2h.") var duration: String?
    @Option(help: "Stop when nobody has published for this long.") var stopWhenEmpty: String?
    @Option(help: "Stop once the raw captures hold this much, e.g. 2G, 500M.") var maxSize: String?
    @Option(help: "Refuse to start, or stop cleanly, when the output's disk has less free space than this (default 256M).")
    var minFree = "256M"
    @Option(help: "Lock file: a second run with the same lock exits at once with code 75 (default: one per room in --out).")
    var lock: String?
    @Option(help: "Serve Prometheus metrics (/metrics) and a health check (/health) on PORT or HOST:PORT while recording.")
    var metrics: String?
    @Option(help: "Run this shell command when the recording is complete; the manifest's path is $1 and $FLOWREC_MANIFEST.")
    var onComplete: String?
    @Option(help: "WHIP: require 'Authorization: Bearer TOKEN'. Janus: the API token. Or --token-file, or $FLOWREC_TOKEN.")
    var token: String?
    @Option(help: "Read --token from this file (its first line).") var tokenFile: String?
    @Option(help: "WHIP: at most this many publishers at once.") var maxParticipants = 16
    @Option(help: "Janus: the room's pin. Or --pin-file, or $FLOWREC_PIN.") var pin: String?
    @Option(help: "Read --pin from this file (its first line).") var pinFile: String?
    @Option(help: "Janus: a second room whose publishers share screens, recorded into the same outputs (shown large by the speaker layout).")
    var screenRoom: String?
    @Option(help: "Janus: the recorder's display name in the room.") var display = "flowrec-recorder"
    @Option(help: "Janus: the API secret. Or --api-secret-file, or $FLOWREC_API_SECRET.") var apiSecret: String?
    @Option(help: "Read --api-secret from this file (its first line).") var apiSecretFile: String?
    @Flag(help: "Janus: reconnect after a dropped connection and continue in the same output.") var reconnect = false
    @Option(help: "Announce this address as the ICE host candidate (repeatable; default: every non-loopback IPv4 address).")
    var iceHost: [String] = []
    @Option(help: "UDP ports for media, one per connection: FIRST-LAST (default: any free port).") var udpPorts: String?
    @Option(help: "A TURN server for a relayed candidate: turn:IP[:PORT] (UDP), with --turn-user and --turn-pass.") var turn: String?
    @Option(help: "TURN username (long-term credentials).") var turnUser: String?
    @Option(help: "TURN password. Or --turn-pass-file, or $FLOWREC_TURN_PASS.") var turnPass: String?
    @Option(help: "Read --turn-pass from this file (its first line).") var turnPassFile: String?
    @Option(help: "DTLS role when the offer leaves it open: auto (client), client or server.") var dtlsRole = "auto"
    @Option(help: "Bitrate announced to senders with REMB, kbit/s.") var rembKbps = 2500
    @Flag(help: "Make the WebM files from the captures after the stop, not while recording (less CPU during the call, a longer stop).")
    var outputsAfterStop = false
    @Flag(help: "Overwrite existing output files.") var force = false
    @OptionGroup(title: "Logging") var logging: LogOptions

    func validate() throws {
        guard (whip == nil) != (janus == nil) else { throw ValidationError("give exactly one of --whip PORT and --janus URL") }
        _ = try segmentSeconds(segment)
        _ = try pictureLimit(maxPicture)
    }

    func run() throws {
        try runJob {
            var config: PipelineConfig
            do { config = try PipelineConfig.load(pipeline ?? "grid-720p") } catch { throw ValidationError("--pipeline: \(error)") }
            if tracks { config.tracks = true }
            if let seconds = try segmentSeconds(segment) { config.segmentSeconds = seconds }
            if let limit = try pictureLimit(maxPicture) { config.maxPicture = limit }
            var common = LiveRecordingOptions(outFolder: out, pipeline: config, pipelineName: pipeline ?? "grid-720p")
            guard let role = DTLSRolePreference(rawValue: dtlsRole) else { throw ValidationError("--dtls-role: auto, client or server") }
            common.peer.dtlsRole = role
            common.peer.rembBitsPerSecond = UInt64(max(30, rembKbps)) * 1000
            common.udpPorts = try udpPorts.map(portRange)
            if let turn {
                guard let user = turnUser, let password = try secret(turnPass, file: turnPassFile, "--turn-pass", env: "FLOWREC_TURN_PASS") else {
                    throw ValidationError("--turn needs --turn-user and --turn-pass")
                }
                let server: (host: String, port: UInt16)
                do { server = try TURNServer.parseURI(turn) } catch { throw ValidationError("--turn: \(error)") }
                common.peer.ice.turnServer = TURNServer(address: STUNAddress(ip: server.host, port: server.port), username: user, password: password)
            }
            common.durationSeconds = try duration.map { try seconds($0, "--duration") }
            common.stopWhenEmptySeconds = try stopWhenEmpty.map { try seconds($0, "--stop-when-empty") }
            common.maxCaptureBytes = try maxSize.map { try bytes($0, "--max-size") }
            common.minFreeBytes = try bytes(minFree, "--min-free")
            common.lockPath = lock
            common.nameTemplate = name
            common.candidateHosts = try iceHost.map(checkedHostCandidate)
            common.overwrite = force
            common.outputsWhileRecording = !outputsAfterStop
            if let metrics {
                guard let address = MetricsServer.parseAddress(metrics) else { throw ValidationError("--metrics: '\(metrics)' is not PORT or HOST:PORT") }
                common.metricsAddress = address
            }

            let stop = StopRequest()
            // SIGHUP (the terminal or SSH session went away) finalises the recording as SIGTERM does.
            let signals = [SIGINT, SIGTERM, SIGHUP].map { signo -> any DispatchSourceSignal in
                signal(signo, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
                source.setEventHandler { stop.request(.signal) }
                source.resume()
                return source
            }
            defer { signals.forEach { $0.cancel() } }
            let result: (manifest: RecordManifest, path: String)
            if let janus {
                var options = JanusRecordOptions(url: janus, room: JanusRoomID(room), recording: common)
                options.pin = try secret(pin, file: pinFile, "--pin", env: "FLOWREC_PIN")
                options.screenRoom = screenRoom.map(JanusRoomID.init)
                options.displayName = display
                options.apiSecret = try secret(apiSecret, file: apiSecretFile, "--api-secret", env: "FLOWREC_API_SECRET")
                options.token = try secret(token, file: tokenFile, "--token", env: "FLOWREC_TOKEN")
                options.reconnect = reconnect
                let settled = options
                result = try runBlocking { try await JanusRecordJob.run(settled, stop: stop, logger: logger) }
            } else {
                let (host, port) = try listenAddress(whip ?? "")
                var options = WHIPRecordOptions(port: port, room: room, recording: common)
                options.listenHost = host
                options.token = try secret(token, file: tokenFile, "--token", env: "FLOWREC_TOKEN")
                options.maxParticipants = maxParticipants
                let limit = DescriptorLimit.raiseToHard()
                if limit.soft != limit.before {
                    logger.info("descriptor limit raised from \(limit.before) to \(limit.soft)")
                }
                options.descriptorLimit = limit.soft
                let settled = options
                result = try runBlocking { try await WHIPRecordJob.run(settled, stop: stop, logger: logger) }
            }
            for warning in result.manifest.warnings { logger.warning("\(warning)") }
            for output in result.manifest.outputs { print(outputLine(output)) }
            let reason = result.manifest.stopReason ?? .signal
            print("wrote \(result.path)  manifest stop=\(reason.rawValue) participants=\(result.manifest.participants.count)")
            if let onComplete { runHook(onComplete, manifest: result.path) }
            switch reason {
            case .signal: throw ExitCode(ExitCodes.interrupted)
            case .serverLost: throw ExitCode(ExitCodes.unavailable)
            case .diskFull:
                logger.error("the disk holding \(out) is full (less than --min-free \(minFree) left): stopped; what was received is in the files",
                             metadata: ["path": "\(out)"])
                throw ExitCode(ExitCodes.ioError)
            case .writeFailed:
                logger.error("a write in \(out) failed, so the recording stopped; what was received is in the files",
                             metadata: ["path": "\(out)"])
                throw ExitCode(ExitCodes.ioError)
            case .duration, .empty, .maxSize, .roomClosed: break
            }
        }
    }

    /// An `--ice-host` value: a dotted IPv4 address a peer can send to (not 0.0.0.0, multicast or
    /// broadcast). IPv6 host candidates are not offered yet: the media sockets are IPv4.
    private func checkedHostCandidate(_ text: String) throws -> String {
        guard let bytes = IPAddressText.parseIPv4(text) else {
            if IPAddressText.parseIPv6(text) != nil {
                throw ValidationError("--ice-host: '\(text)' is IPv6; host candidates are IPv4 for now (the media sockets are IPv4)")
            }
            throw ValidationError("--ice-host: '\(text)' is not an IPv4 address")
        }
        guard bytes[0] != 0, !(224...255).contains(bytes[0]) else {
            throw ValidationError("--ice-host: '\(text)' is not an address a peer can send to (unspecified, multicast or broadcast)")
        }
        return text
    }

    private func listenAddress(_ text: String) throws -> (String, Int) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let host = parts.count > 1 ? parts.dropLast().joined(separator: ":") : "0.0.0.0"
        guard let port = Int(parts.last ?? ""), (0...65_535).contains(port) else {
            throw ValidationError("--whip: '\(text)' is not PORT or HOST:PORT")
        }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    private func portRange(_ text: String) throws -> ClosedRange<Int> {
        let bounds = text.split(separator: "-").compactMap { Int($0) }
        guard bounds.count == 2, 1...65_535 ~= bounds[0], bounds[0] <= bounds[1], bounds[1] <= 65_535 else {
            throw ValidationError("--udp-ports: '\(text)' is not FIRST-LAST")
        }
        return bounds[0]...bounds[1]
    }

    private func bytes(_ text: String, _ option: String) throws -> Int64 {
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = text.uppercased()
        if digits.hasSuffix("B") { digits.removeLast() }
        var scale: Int64 = 1
        if let last = digits.last, let unit = units[last] {
            scale = unit
            digits.removeLast()
        }
        guard let value = Double(digits), value >= 0, value * Double(scale) < 9e18 else {
            throw ValidationError("\(option): '\(text)' is not a size like 500M or 2G")
        }
        return Int64(value * Double(scale))
    }

    /// Runs `--on-complete` with the manifest's path; a failure is reported, the recording stands.
    private func runHook(_ command: String, manifest: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command, "flowrec-on-complete", manifest]
        process.environment = ProcessInfo.processInfo.environment.merging(["FLOWREC_MANIFEST": manifest]) { $1 }
        do {
            try process.run()
            process.waitUntilExit()
            if process.terminationStatus != 0 {
                logger.error("--on-complete '\(command)' exited with \(process.terminationStatus) for \(manifest)", metadata: ["path": "\(manifest)"])
            }
        } catch {
            logger.error("--on-complete '\(command)' could not run: \(error)", metadata: ["path": "\(manifest)"])
        }
    }

    /// A secret from its option, else the first line of its `--…-file`, else the environment
    /// variable `env` (so it need not be on the command line, which other users can read).
    private func secret(_ value: String?, file: String?, _ option: String, env: String) throws -> String? {
        if let value {
            guard file == nil else { throw ValidationError("give \(option) or \(option)-file, not both") }
            return value
        }
        if let file {
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw ValidationError("\(option)-file: cannot read \(file): \(error.localizedDescription)")
            }
            guard let line = text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init), !line.isEmpty else {
                throw ValidationError("\(option)-file: \(file) is empty")
            }
            return line.hasSuffix("\r") ? String(line.dropLast()) : line
        }
        return ProcessInfo.processInfo.environment[env].flatMap { $0.isEmpty ? nil : $0 }
    }

    private func seconds(_ text: String, _ option: String) throws -> Double {
        guard let value = parseDuration(text), value > 0 else { throw ValidationError("\(option): '\(text)' is not a duration like 90s or 15m") }
        return value
    }
}

/// Runs async work from a synchronous command and waits for it (the command's thread just blocks).
func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

private final class ResultBox<T: Sendable>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
