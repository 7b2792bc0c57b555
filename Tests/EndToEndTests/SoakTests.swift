import Foundation
import Soak
import Testing

/// Issue 6: an hour of a synthetic room through the live path on a virtual clock (`flowrec soak`:
/// loopback publishers → ICE/DTLS/SRTP/NACK → captures and the outputs made while recording), in
/// its own process so that its resident memory is its own. The memory at the end must be within
/// 10% of that after the first minute, and what it wrote must be whole: the composite as long as
/// the hour, every packet that arrived in the captures, every file decoding cleanly.
@Suite(.serialized) struct SoakTests {
    @Test func anHourOfARoomThroughTheLivePathKeepsMemoryFlat() throws {
        let dir = try Tool.temporaryFolder()
        let started = ContinuousClock.now
        let result = try Tool.flowrec("soak", "--out", dir, "--duration", "1h")
        try #require(result.status == 0, "flowrec soak exited \(result.status): \(result.stderr)")
        try result.output.write(to: URL(fileURLWithPath: dir + "/report.json"))
        let report = try JSONDecoder().decode(SoakReport.self, from: result.output)
        let growth = String(format: "%.3f", report.ratio)
        print("soak: RSS \(report.minuteOneRSSKiB) KiB at minute 1, \(report.endRSSKiB) KiB at the end (×\(growth)); "
            + String(format: "%.0f s wall, %.0f s CPU for %d virtual s; ", report.wallSeconds, report.cpuSeconds, report.virtualSeconds)
            + String(format: "test %.0f s; report in %@", (ContinuousClock.now - started).seconds, dir))

        var clean = true
        func check(_ ok: Bool, _ message: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(ok, Comment(rawValue: message()), sourceLocation: sourceLocation)
            clean = clean && ok
        }
        check(report.outputsFailure == nil, "the live outputs were given up: \(report.outputsFailure ?? "")")
        check(report.samples.count == 60, "samples at \(report.samples.map(\.virtualSeconds)) s")
        check(report.minuteOneRSSKiB > 0 && Double(report.endRSSKiB) <= 1.10 * Double(report.minuteOneRSSKiB),
              "RSS grew from \(report.minuteOneRSSKiB) KiB at minute 1 to \(report.endRSSKiB) KiB: \(report.samples.map(\.rssKiB))")

        // Every ten minutes the publisher connected longest leaves and comes back 10 s later as a new
        // participant: p1…p3, then p4…p8. Each capture holds every packet that arrived (those sent,
        // less those the network dropped, plus the RTX repairs; and the BYE of those who left).
        check(report.publishers.map(\.participant) == (1...8).map { "p\($0)" }, "publishers \(report.publishers.map(\.participant))")
        for (publisher, session) in zip(report.publishers, report.sessions) {
            let arrived = publisher.rtpSent - publisher.dropped + publisher.retransmitted + publisher.rtcpSent
            let captured = session.captures.reduce(0) { $0 + $1.packets }
            let seconds = (publisher.leftSeconds ?? Double(report.virtualSeconds)) - publisher.joinedSeconds
            check(abs(captured - arrived) <= max(5, arrived / 1000) && Double(publisher.rtpSent) > 50 * seconds,
                  "\(publisher.participant): \(captured) packets captured, \(arrived) arrived, \(publisher.rtpSent) RTP sent in \(seconds) s")
            check(session.failure == nil || publisher.leftSeconds != nil, "\(publisher.participant): \(session.failure ?? "")")
        }

        // The composite lasts the hour, each participant's file the time it was there.
        var expected = ["composite": Double(report.virtualSeconds)]
        for publisher in report.publishers {
            expected[publisher.participant] = (publisher.leftSeconds ?? Double(report.virtualSeconds)) - publisher.joinedSeconds
        }
        for output in report.outputs {
            let seconds = try duration(output.path)
            check(abs(seconds - (expected[output.name] ?? 0)) < 2, "\(output.name): \(seconds) s, expected \(expected[output.name] ?? 0) s")
        }
        check(Set(report.outputs.map(\.name)) == Set(expected.keys), "outputs \(report.outputs.map(\.name))")

        // Every file decodes without an error (two ffmpeg processes at a time).
        let paths = report.outputs.map(\.path)
        let errors = Errors(count: paths.count)
        DispatchQueue.concurrentPerform(iterations: paths.count) { i in
            errors.set(i, (try? Decode.errors(paths[i])) ?? "ffmpeg did not run")
        }
        for (path, error) in zip(paths, errors.all) { check(error.isEmpty, "\(path): \(error)") }

        // A green run leaves nothing behind (the captures alone are about 200 MB); a red one keeps all for a look.
        if clean { try? FileManager.default.removeItem(atPath: dir) }
    }

    /// The container's duration (ffprobe).
    private func duration(_ path: String) throws -> Double {
        let result = try Tool.run("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path])
        return Double(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }
}

/// Results written from concurrent iterations.
private final class Errors: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String]

    init(count: Int) { values = Array(repeating: "", count: count) }

    func set(_ index: Int, _ value: String) { lock.withLock { values[index] = value } }

    var all: [String] { lock.withLock { values } }
}
