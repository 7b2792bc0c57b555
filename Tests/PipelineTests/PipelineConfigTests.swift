import Foundation
import Media
import Testing
import VideoCompose
@testable import Pipeline

@Suite struct PipelineConfigTests {
    static let presetFolder: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/Pipelines"
    }()

    @Test func everyBundledPresetLoads() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.presetFolder).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(names == ["audio-only.yaml", "grid-720p-tracks.yaml", "grid-720p.yaml", "speaker-1080p.yaml", "tracks.yaml"])
        for name in names {
            let config = try PipelineConfig.load(String(name.dropLast(5)), folders: [Self.presetFolder])
            #expect(!config.description.isEmpty, "\(name) has a description")
        }
    }

    @Test func presetsSayWhatTheirNamesSay() throws {
        let grid = try PipelineConfig.load("grid-720p", folders: [Self.presetFolder])
        #expect(grid.composite?.video?.width == 1280 && grid.composite?.video?.height == 720 && grid.composite?.video?.layout == .grid)
        #expect(grid.composite?.video?.codec == .vp8 && grid.composite?.video?.bitrateKbps == 1500 && !grid.tracks)
        let gridTracks = try PipelineConfig.load("grid-720p-tracks", folders: [Self.presetFolder])
        #expect(gridTracks.composite == grid.composite && gridTracks.tracks && gridTracks.name == "grid-720p-tracks")
        let speaker = try PipelineConfig.load("speaker-1080p", folders: [Self.presetFolder])
        #expect(speaker.composite?.video?.layout == .speaker && speaker.composite?.video?.width == 1920 && speaker.composite?.audio.channels == 2)
        let audio = try PipelineConfig.load("audio-only", folders: [Self.presetFolder])
        #expect(audio.composite != nil && audio.composite?.video == nil)
        let tracks = try PipelineConfig.load("tracks", folders: [Self.presetFolder])
        #expect(tracks.composite == nil && tracks.tracks)
    }

    private func error(_ yaml: String) -> PipelineConfigError? {
        do {
            _ = try PipelineConfig.parse(yaml, file: "test.yaml", name: "test")
            return nil
        } catch {
            return error
        }
    }

    @Test func unknownKeyNamesFileLineAndKey() throws {
        let e = try #require(error("composite:\n  video:\n    width: 640\n    fsp: 30\n"))
        #expect(e.file == "test.yaml" && e.line == 4 && e.key == "composite.video.fsp")
        #expect(e.description.hasPrefix("test.yaml:4: composite.video.fsp: unknown key"))
    }

    @Test func wrongTypesAndRangesNameTheKey() throws {
        #expect(error("composite:\n  video:\n    width: wide\n")?.key == "composite.video.width")
        #expect(error("composite:\n  video:\n    width: 641\n")?.reason.contains("even") == true)
        #expect(error("composite:\n  video:\n    layout: mosaic\n")?.line == 3)
        #expect(error("tracks: maybe\n")?.key == "tracks")
        #expect(error("composite: [1, 2]\n")?.key == "composite")
        #expect(error("composite:\n  audio:\n    channels: 6\n")?.reason.contains("outside") == true)
        #expect(error("description: nothing written\n")?.reason.contains("writes nothing") == true)
        #expect(error("composite: {video: {width: 640}\n")?.line != nil)
    }

    @Test func segmentSecondsFromAPreset() throws {
        #expect(try PipelineConfig.parse("tracks: true\nsegment_seconds: 900\n", file: "t.yaml", name: "t").segmentSeconds == 900)
        #expect(try PipelineConfig.load("grid-720p", folders: [Self.presetFolder]).segmentSeconds == nil)
        let short = try #require(error("tracks: true\nsegment_seconds: 5\n"))
        #expect(short.key == "segment_seconds" && short.line == 2 && short.reason.contains("outside 10..."))
    }

    @Test func loadingUnknownNameListsKnownOnes() {
        #expect(throws: PipelineConfigError.self) { try PipelineConfig.load("nope", folders: [Self.presetFolder]) }
        do {
            _ = try PipelineConfig.load("nope", folders: [Self.presetFolder])
        } catch {
            #expect(error.description.contains("grid-720p"))
        }
    }
}
