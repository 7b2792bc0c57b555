import ArgumentParser
import Dispatch
import Foundation
import Jobs
import Live
import Peer
import Pipeline

/// `flowrec record --whip [HOST:]PORT --room NAME --out DIR`: publishers send over WHIP, flowrec records.
struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record a room live: WHIP publishers send straight to flowrec, peer to peer.",
        discussion: """
        Every publisher that POSTs an SDP offer to http://HOST:PORT/whip/ROOM becomes a participant. Each \
        participant's decrypted packets go to DIR/<base>.capture/<participant>.pcap (synced every second). \
        When the recording stops (--duration, --stop-when-empty, SIGINT or SIGTERM) the captures become \
        DIR/<base>.webm (the composite of --pipeline) and, with --tracks, DIR/<base>.<participant>.webm, \
        and DIR/<base>.json describes the recording. <base> is ROOM-<UTC start>, or --name.
        """)

    @Option(help: "WHIP listen address: PORT or HOST:PORT (default host 0.0.0.0).") var whip: String
    @Option(help: "Room name publishers use in the WHIP URL.") var room: String
    @Option(help: "Output folder.") var out: String
    @Option(help: "Pipeline preset name or YAML file (default grid-720p).") var pipeline: String?
    @Flag(help: "Also write one WebM per participant.") var tracks = false
    @Option(help: "File name base instead of ROOM-<UTC start>.") var name: String?
    @Option(help: "Stop after this long, e.g. 60s, 15m, 2h.") var duration: String?
    @Option(help: "Stop when every publisher has left and none came back for this long.") var stopWhenEmpty: String?
    @Option(help: "Require 'Authorization: Bearer TOKEN' on WHIP requests.") var token: String?
    @Option(help: "At most this many publishers at once.") var maxParticipants = 16
    @Option(help: "Announce this address as the ICE host candidate (repeatable; default: every non-loopback IPv4 address).")
    var iceHost: [String] = []
    @Option(help: "UDP ports for publishers' media, one each: FIRST-LAST (default: any free port).") var udpPorts: String?
    @Option(help: "DTLS role when the publisher leaves it open: auto (client), client or server.") var dtlsRole = "auto"
    @Option(help: "Bitrate announced to senders with REMB, kbit/s.") var rembKbps = 2500
    @Flag(help: "Overwrite existing output files.") var force = false

    func run() throws {
        try runJob {
            var config: PipelineConfig
            do { config = try PipelineConfig.load(pipeline ?? "grid-720p") } catch { throw ValidationError("--pipeline: \(error)") }
            if tracks { config.tracks = true }
            let (host, port) = try listenAddress(whip)
            var options = WHIPRecordOptions(port: port, room: room, outFolder: out, pipeline: config)
            options.listenHost = host
            options.baseName = name
            options.durationSeconds = try duration.map { try seconds($0, "--duration") }
            options.stopWhenEmptySeconds = try stopWhenEmpty.map { try seconds($0, "--stop-when-empty") }
            options.token = token
            options.maxParticipants = maxParticipants
            options.candidateHosts = iceHost
            if let udpPorts {
                let bounds = udpPorts.split(separator: "-").compactMap { Int($0) }
                guard bounds.count == 2, 1...65_535 ~= bounds[0], bounds[0] <= bounds[1], bounds[1] <= 65_535 else {
                    throw ValidationError("--udp-ports: '\(udpPorts)' is not FIRST-LAST")
                }
                options.udpPorts = bounds[0]...bounds[1]
            }
            options.overwrite = force
            guard let role = DTLSRolePreference(rawValue: dtlsRole) else { throw ValidationError("--dtls-role: auto, client or server") }
            options.peer.dtlsRole = role
            options.peer.rembBitsPerSecond = UInt64(max(30, rembKbps)) * 1000

            let stop = StopRequest()
            let signals = [SIGINT, SIGTERM].map { signo -> any DispatchSourceSignal in
                signal(signo, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
                source.setEventHandler { stop.request(.signal) }
                source.resume()
                return source
            }
            defer { signals.forEach { $0.cancel() } }
            let settled = options
            let result = try runBlocking {
                try await RecordJob.recordWHIP(settled, stop: stop, ready: { _ in }, log: { log($0) })
            }
            for warning in result.manifest.warnings { log("warning: \(warning)") }
            for output in result.manifest.outputs {
                print("wrote \(output.path)  \(output.name == "composite" ? "composite" : "participant=\(output.name)") duration=\(String(format: "%.3f", output.durationSeconds))s")
            }
            print("wrote \(result.path)  manifest stop=\(result.manifest.stopReason.rawValue) participants=\(result.manifest.participants.count)")
        }
    }

    private func listenAddress(_ text: String) throws -> (String, Int) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let host = parts.count > 1 ? parts.dropLast().joined(separator: ":") : "0.0.0.0"
        guard let port = Int(parts.last ?? ""), (0...65_535).contains(port) else {
            throw ValidationError("--whip: '\(text)' is not PORT or HOST:PORT")
        }
        return (host.isEmpty ? "0.0.0.0" : host, port)
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
