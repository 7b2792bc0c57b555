/// Module `Pipeline`: the room pipeline (timeline → decode → mix and compose → encode → WebM)
/// and the declarative presets in `Pipelines/*.yaml` that configure it.
import Foundation
import Media
import VideoCompose
import WebM
import Yams

/// A whole pipeline preset: what to write and how.
public struct PipelineConfig: Sendable, Equatable {
    /// The preset's name (its file name without `.yaml`).
    public var name: String
    /// One-line description shown by `flowrec pipelines`.
    public var description: String
    /// The composite file (mixed audio, tiled video); nil for remux-only presets.
    public var composite: CompositeConfig?
    /// Also write one remuxed WebM per participant.
    public var tracks: Bool
    /// Cut every output into files of this many seconds (`--segment`, key `segment_seconds`); nil: one file each.
    public var segmentSeconds: Int?
    /// The largest picture a video stream may declare (`--max-picture`): a stream declaring a larger
    /// one is dropped from that frame on, before any decoder or muxer sees it.
    public var maxPicture = PictureSizeLimit.standard

    public init(name: String, description: String = "", composite: CompositeConfig?, tracks: Bool, segmentSeconds: Int? = nil) {
        self.name = name
        self.description = description
        self.composite = composite
        self.tracks = tracks
        self.segmentSeconds = segmentSeconds
    }
}

/// The composite output: video (nil for audio-only) and audio.
public struct CompositeConfig: Sendable, Equatable {
    public var video: VideoConfig?
    public var audio: AudioConfig

    public init(video: VideoConfig?, audio: AudioConfig) {
        self.video = video
        self.audio = audio
    }
}

/// Canvas, layout and encoder of the composite video.
public struct VideoConfig: Sendable, Equatable {
    public var width = 1280
    public var height = 720
    public var fps = 30
    public var layout = LayoutKind.grid
    public var codec = Codec.vp8
    public var bitrateKbps = 1500
    public var deadline = VPXEncoder.Deadline.realtime
    public var cpuUsed = 8
    public var threads = 2
    /// Frames between forced keyframes.
    public var keyframeInterval = 150

    public init() {}
}

/// Mix and encoder of the composite audio.
public struct AudioConfig: Sendable, Equatable {
    public var channels = 1
    public var bitrateKbps = 48

    public init() {}
}

/// A preset that could not be loaded: which file, which line, which key, and why.
public struct PipelineConfigError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var key: String?
    public var reason: String

    public init(file: String, line: Int? = nil, key: String? = nil, reason: String) {
        self.file = file
        self.line = line
        self.key = key
        self.reason = reason
    }

    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ": "
        if let key { text += "\(key): " }
        return text + reason
    }
}

extension PipelineConfig {
    /// Folders searched for presets named without a path, in order: `$FLOWREC_PIPELINES`,
    /// `./Pipelines`, the repository's `Pipelines/` beside a build folder holding the binary,
    /// `/usr/share/flowrec/Pipelines`.
    public static func searchFolders(executable: String = CommandLine.arguments.first ?? "") -> [String] {
        var folders: [String] = []
        if let env = ProcessInfo.processInfo.environment["FLOWREC_PIPELINES"], !env.isEmpty { folders.append(env) }
        folders.append(FileManager.default.currentDirectoryPath + "/Pipelines")
        // .build/<triple>/<configuration>/flowrec or .build/<configuration>/flowrec → repository root.
        var url = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            url.deleteLastPathComponent()
            folders.append(url.path + "/Pipelines")
        }
        folders.append("/usr/share/flowrec/Pipelines")
        return folders
    }

    /// Loads a preset by name (`grid-720p`) from the search folders, or from a path (anything
    /// containing `/` or ending in `.yaml`/`.yml`).
    public static func load(_ nameOrPath: String, folders: [String] = searchFolders()) throws(PipelineConfigError) -> PipelineConfig {
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".yaml") || nameOrPath.hasSuffix(".yml") {
            return try load(file: nameOrPath)
        }
        for folder in folders {
            let path = folder + "/" + nameOrPath + ".yaml"
            if FileManager.default.fileExists(atPath: path) { return try load(file: path) }
        }
        let known = Set(folders.flatMap { (try? FileManager.default.contentsOfDirectory(atPath: $0)) ?? [] }
            .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }).sorted()
        throw PipelineConfigError(file: nameOrPath, reason: "no such pipeline; known: \(known.isEmpty ? "none found" : known.joined(separator: ", "))")
    }

    /// Loads and validates one YAML file.
    public static func load(file: String) throws(PipelineConfigError) -> PipelineConfig {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            throw PipelineConfigError(file: file, reason: "cannot read the file")
        }
        var name = (file as NSString).lastPathComponent
        for ext in [".yaml", ".yml"] where name.hasSuffix(ext) { name = String(name.dropLast(ext.count)) }
        return try parse(text, file: file, name: name) { base, line throws(PipelineConfigError) in
            // `base: NAME` loads a preset from the same folder (or the search folders) first.
            let folder = (file as NSString).deletingLastPathComponent
            guard base != name else { throw PipelineConfigError(file: file, line: line, key: "base", reason: "a preset cannot be its own base") }
            return try load(base, folders: [folder.isEmpty ? "." : folder] + searchFolders())
        }
    }

    /// Parses preset text; `file` is used in error messages only. A `base:` key names a preset
    /// whose settings this one starts from; `loadBase` finds it.
    public static func parse(_ text: String, file: String, name: String,
                             loadBase: (String, Int?) throws(PipelineConfigError) -> PipelineConfig = { base, line throws(PipelineConfigError) in
                                 throw PipelineConfigError(file: "", line: line, key: "base", reason: "no base presets here")
                             }) throws(PipelineConfigError) -> PipelineConfig {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw PipelineConfigError(file: file, reason: "empty file") }
            root = node
        } catch let error as PipelineConfigError {
            throw error
        } catch let error as YamlError {
            throw PipelineConfigError(file: file, line: yamlErrorLine(error), reason: "not valid YAML: \(error)")
        } catch {
            throw PipelineConfigError(file: file, reason: "not valid YAML: \(error)")
        }
        let reader = ConfigReader(file: file)
        let top = try reader.mapping(root, path: "", keys: ["base", "description", "composite", "tracks", "segment_seconds"])
        var config = PipelineConfig(name: name, composite: nil, tracks: false)
        if let baseNode = top["base"] {
            config = try loadBase(try reader.string(baseNode, "base"), baseNode.mark?.line)
            config.name = name
        }
        if let description = top["description"] { config.description = try reader.string(description, "description") }
        if let tracks = top["tracks"] { config.tracks = try reader.bool(tracks, "tracks") }
        if let segment = top["segment_seconds"] {
            config.segmentSeconds = try reader.int(segment, "segment_seconds", in: SegmentClock.minimumSeconds...SegmentClock.maximumSeconds)
        }
        if let compositeNode = top["composite"] {
            let composite = try reader.mapping(compositeNode, path: "composite", keys: ["video", "audio"])
            var audio = config.composite?.audio ?? AudioConfig()
            if let audioNode = composite["audio"] {
                let a = try reader.mapping(audioNode, path: "composite.audio", keys: ["channels", "bitrate_kbps"])
                if let n = a["channels"] { audio.channels = try reader.int(n, "composite.audio.channels", in: 1...2) }
                if let n = a["bitrate_kbps"] { audio.bitrateKbps = try reader.int(n, "composite.audio.bitrate_kbps", in: 6...510) }
            }
            var video = config.composite?.video
            if let videoNode = composite["video"] {
                let v = try reader.mapping(videoNode, path: "composite.video",
                                           keys: ["width", "height", "fps", "layout", "codec", "bitrate_kbps", "deadline", "cpu_used", "threads", "keyframe_interval"])
                var c = video ?? VideoConfig()
                if let n = v["width"] { c.width = try reader.int(n, "composite.video.width", in: 32...7680, even: true) }
                if let n = v["height"] { c.height = try reader.int(n, "composite.video.height", in: 32...4320, even: true) }
                if let n = v["fps"] { c.fps = try reader.int(n, "composite.video.fps", in: 1...120) }
                if let n = v["layout"] { c.layout = try reader.choice(n, "composite.video.layout", LayoutKind.allCases.map { ($0.rawValue, $0) }) }
                if let n = v["codec"] { c.codec = try reader.choice(n, "composite.video.codec", [("vp8", Codec.vp8), ("vp9", Codec.vp9)]) }
                if let n = v["bitrate_kbps"] { c.bitrateKbps = try reader.int(n, "composite.video.bitrate_kbps", in: 50...50_000) }
                if let n = v["deadline"] {
                    c.deadline = try reader.choice(n, "composite.video.deadline", [("realtime", VPXEncoder.Deadline.realtime), ("good", .good)])
                }
                if let n = v["cpu_used"] { c.cpuUsed = try reader.int(n, "composite.video.cpu_used", in: -16...16) }
                if let n = v["threads"] { c.threads = try reader.int(n, "composite.video.threads", in: 1...16) }
                if let n = v["keyframe_interval"] { c.keyframeInterval = try reader.int(n, "composite.video.keyframe_interval", in: 1...10_000) }
                video = c
            }
            config.composite = CompositeConfig(video: video, audio: audio)
        }
        guard config.composite != nil || config.tracks else {
            throw PipelineConfigError(file: file, line: root.mark?.line, reason: "writes nothing: give `composite:` and/or `tracks: true`")
        }
        return config
    }

    private static func yamlErrorLine(_ error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }
}

/// Typed access to YAML nodes with errors that name file, line and key.
private struct ConfigReader {
    let file: String

    func fail(_ node: Node, _ key: String, _ reason: String) -> PipelineConfigError {
        PipelineConfigError(file: file, line: node.mark?.line, key: key.isEmpty ? nil : key, reason: reason)
    }

    /// A mapping whose keys are all in `keys`; returns values by key.
    func mapping(_ node: Node, path: String, keys: [String]) throws(PipelineConfigError) -> [String: Node] {
        guard case .mapping(let mapping) = node else { throw fail(node, path, "expected a mapping of keys") }
        var out: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else { throw fail(keyNode, path, "keys must be text") }
            let full = path.isEmpty ? key : path + "." + key
            guard keys.contains(key) else { throw fail(keyNode, full, "unknown key (expected one of: \(keys.joined(separator: ", ")))") }
            out[key] = value
        }
        return out
    }

    func scalar(_ node: Node, _ key: String, _ expected: String) throws(PipelineConfigError) -> Node.Scalar {
        guard case .scalar(let scalar) = node else { throw fail(node, key, "expected \(expected)") }
        return scalar
    }

    func string(_ node: Node, _ key: String) throws(PipelineConfigError) -> String {
        try scalar(node, key, "text").string
    }

    func int(_ node: Node, _ key: String, in range: ClosedRange<Int>, even: Bool = false) throws(PipelineConfigError) -> Int {
        let s = try scalar(node, key, "a whole number")
        guard let value = Int(s.string) else { throw fail(node, key, "expected a whole number, found '\(s.string)'") }
        guard range.contains(value) else { throw fail(node, key, "\(value) is outside \(range.lowerBound)...\(range.upperBound)") }
        guard !even || value % 2 == 0 else { throw fail(node, key, "must be even (4:2:0 chroma), found \(value)") }
        return value
    }

    func bool(_ node: Node, _ key: String) throws(PipelineConfigError) -> Bool {
        let s = try scalar(node, key, "true or false")
        switch s.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw fail(node, key, "expected true or false, found '\(s.string)'")
        }
    }

    func choice<T>(_ node: Node, _ key: String, _ options: [(String, T)]) throws(PipelineConfigError) -> T {
        let s = try scalar(node, key, "one of \(options.map(\.0).joined(separator: ", "))")
        guard let match = options.first(where: { $0.0 == s.string.lowercased() }) else {
            throw fail(node, key, "'\(s.string)' is not one of \(options.map(\.0).joined(separator: ", "))")
        }
        return match.1
    }
}
