import Testing
import VideoCompose

/// Feeds 20 ms blocks from `from` (inclusive) to `to` (exclusive); returns the speaker after each block.
@discardableResult
func feed(_ d: inout ActiveSpeakerDetector, from: Int64, to: Int64,
          _ levels: (Int64) -> [String: Double]) -> [(Int64, String?)] {
    var out: [(Int64, String?)] = []
    var t = from
    while t < to {
        out.append((t, d.update(levels: levels(t), atMillis: t)))
        t += 20
    }
    return out
}

@Suite struct ActiveSpeakerTests {
    @Test func nobodyUntilSomeoneSpeaksThenFirstSpeakerAtOnce() {
        var d = ActiveSpeakerDetector()
        #expect(d.update(levels: ["a": -70, "b": -60], atMillis: 0) == nil)
        #expect(d.update(levels: [:], atMillis: 20) == nil)
        #expect(d.update(levels: ["a": -70, "b": -30], atMillis: 40) == "b")
    }

    @Test func louderChallengerTakesOverOnlyAfterHold() {
        var d = ActiveSpeakerDetector(switchAfterMillis: 1500, marginDB: 6)
        feed(&d, from: 0, to: 1000) { _ in ["a": -20, "b": -60] }
        let results = feed(&d, from: 1000, to: 4000) { _ in ["a": -30, "b": -15] }
        let firstB = results.first { $0.1 == "b" }?.0
        #expect(firstB == 2500, "switched at \(String(describing: firstB))")
        #expect(results.filter { $0.0 < 2500 }.allSatisfy { $0.1 == "a" })
        #expect(results.filter { $0.0 >= 2500 }.allSatisfy { $0.1 == "b" })
    }

    @Test func briefBlipsDoNotSwitch() {
        var d = ActiveSpeakerDetector()
        feed(&d, from: 0, to: 500) { _ in ["a": -20] }
        // b shouts for 1 s out of every 2 s: each run ends long before the hold time.
        let results = feed(&d, from: 500, to: 10_000) { t in
            (t / 1000) % 2 == 0 ? ["a": -25, "b": -5] : ["a": -25, "b": -60]
        }
        #expect(results.allSatisfy { $0.1 == "a" })
    }

    @Test func shortDipsInsideARunDoNotRestartIt() {
        var d = ActiveSpeakerDetector(gapToleranceMillis: 300)
        feed(&d, from: 0, to: 500) { _ in ["a": -20] }
        // b talks with 100 ms pauses every 400 ms.
        let results = feed(&d, from: 500, to: 4000) { t in
            (t - 500) % 400 < 300 ? ["a": -30, "b": -10] : ["a": -30, "b": -70]
        }
        let firstB = results.first { $0.1 == "b" }?.0
        #expect(firstB != nil && firstB! >= 2000 && firstB! <= 2200, "\(String(describing: firstB))")
    }

    @Test func marginIsRequired() {
        var d = ActiveSpeakerDetector(marginDB: 6)
        feed(&d, from: 0, to: 200) { _ in ["a": -20] }
        let results = feed(&d, from: 200, to: 8000) { _ in ["a": -20, "b": -16] }   // only 4 dB louder
        #expect(results.allSatisfy { $0.1 == "a" })
    }

    @Test func silenceKeepsTheSpeaker() {
        var d = ActiveSpeakerDetector()
        feed(&d, from: 0, to: 200) { _ in ["a": -20] }
        feed(&d, from: 200, to: 2000) { _ in ["a": -40, "b": -10] }
        #expect(d.current == "b")
        let quiet = feed(&d, from: 2000, to: 12_000) { _ in ["a": -80, "b": -75, "c": -90] }
        #expect(quiet.allSatisfy { $0.1 == "b" })
        let gone = feed(&d, from: 12_000, to: 14_000) { _ in [:] }
        #expect(gone.allSatisfy { $0.1 == "b" })
    }

    @Test func silentSpeakerIsReplacedAfterHold() {
        var d = ActiveSpeakerDetector()
        feed(&d, from: 0, to: 200) { _ in ["a": -20] }
        // a left (no more levels); c speaks quietly but above silence.
        let results = feed(&d, from: 200, to: 3000) { _ in ["c": -45] }
        #expect(results.first { $0.1 == "c" }?.0 == 1700)
    }

    @Test func deterministicTies() {
        func run() -> [String?] {
            var d = ActiveSpeakerDetector()
            var out: [String?] = []
            out.append(d.update(levels: ["zed": -10, "bob": -10, "amy": -10], atMillis: 0))
            out += feed(&d, from: 20, to: 3000) { _ in ["zed": -5, "bob": -5, "amy": -40] }.map(\.1)
            return out
        }
        let first = run()
        #expect(first[0] == "amy")
        #expect(first.last == "bob")
        for _ in 0..<5 { #expect(run() == first) }
    }
}
