import Foundation
import Live
import Testing

/// The manifest stays readable across versions: `--segment` added optional keys only.
@Suite struct RecordManifestTests {
    static let before = """
        {"room": "demo", "source": "whip", "state": "recording", "pipeline": "grid-720p", "tracks": true,
         "startedAt": "2026-11-30T09:00:00.000Z", "participants": [], "connections": [],
         "outputs": [{"name": "composite", "path": "rec/demo.webm", "frames": 10, "durationSeconds": 1.5}],
         "captureFolder": "rec/demo.capture", "warnings": []}
        """

    @Test func aManifestWrittenBeforeSegmentsDecodesAndEncodesWithoutThem() throws {
        let manifest = try JSONDecoder().decode(RecordManifest.self, from: Data(Self.before.utf8))
        #expect(manifest.segmentSeconds == nil && manifest.outputs.first?.startSeconds == nil && manifest.outputs.first?.frames == 10)
        let text = String(decoding: try JSONEncoder().encode(manifest), as: UTF8.self)
        #expect(!text.contains("segmentSeconds") && !text.contains("startSeconds"), "\(text)")
    }

    @Test func segmentsAreRecorded() throws {
        let json = Self.before.replacingOccurrences(of: "\"tracks\": true,", with: "\"tracks\": true, \"segmentSeconds\": 900,")
            .replacingOccurrences(of: "\"durationSeconds\": 1.5}", with: "\"durationSeconds\": 1.5, \"startSeconds\": 900}")
        let manifest = try JSONDecoder().decode(RecordManifest.self, from: Data(json.utf8))
        #expect(manifest.segmentSeconds == 900 && manifest.outputs.first?.startSeconds == 900)
    }
}

@Suite struct NameTemplateTests {
    /// A 300-character room name is cut to 64 characters; {start} stays in the name.
    @Test func aLongRoomNameKeepsTheStartTime() {
        let start = Date(timeIntervalSince1970: 1_765_000_000)
        let name = NameTemplate.expand("{room}-{start}", room: String(repeating: "r", count: 300), start: start)
        #expect(name == String(repeating: "r", count: 64) + "-20251206T054640Z", "\(name)")
    }
}
