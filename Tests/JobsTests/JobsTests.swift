import Testing
@testable import Jobs

@Suite struct DurationParsingTests {
    @Test(arguments: [("90s", 90.0), ("15m", 900), ("1h30m", 5400), ("1h30m15s", 5415), ("250ms", 0.25), ("42", 42), ("1.5", 1.5), ("2m500ms", 120.5)])
    func parses(text: String, seconds: Double) {
        #expect(parseDuration(text) == seconds)
    }

    @Test(arguments: ["", "ten", "5x", "m", "1h30", "-3s", "1..5s"])
    func rejects(text: String) {
        #expect(parseDuration(text) == nil)
    }
}

@Suite struct OutputLocationTests {
    @Test func folderOutput() {
        let out = OutputLocation("rec/room42")
        #expect(!out.namesFile)
        #expect(out.folder == "rec/room42")
        #expect(out.participantPath("alice") == "rec/room42/alice.webm")
        #expect(out.participantPath("../x") == "rec/room42/_._x.webm")
    }

    @Test func fileOutputPutsParticipantsBeside() {
        let out = OutputLocation("/data/rec/meeting.webm")
        #expect(out.namesFile)
        #expect(out.folder == "/data/rec")
        #expect(out.compositePath == "/data/rec/meeting.webm")
        #expect(out.participantPath("1001") == "/data/rec/meeting.1001.webm")
        #expect(OutputLocation("meeting.WEBM").folder == ".")
    }
}
