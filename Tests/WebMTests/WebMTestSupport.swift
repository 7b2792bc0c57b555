import Foundation
import Media
import WebM

/// Finds an executable on PATH (ffprobe, ffmpeg); nil when absent.
func findTool(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":") {
        let candidate = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

let ffprobePath = findTool("ffprobe")
let ffmpegPath = findTool("ffmpeg")
let haveFFTools = ffprobePath != nil && ffmpegPath != nil

struct ToolResult {
    var status: Int32
    var stdout: Data
    var stderr: String
}

/// Runs a tool to completion, reading stdout and stderr concurrently (no pipe deadlock).
func run(_ tool: String, _ args: [String]) throws -> ToolResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = args
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return ToolResult(status: process.terminationStatus, stdout: outData,
                      stderr: String(decoding: errData, as: UTF8.self))
}

/// `ffprobe -show_streams -show_format -count_frames` as JSON.
struct Probe {
    var streams: [[String: Any]]
    var format: [String: Any]

    init(_ file: String) throws {
        let r = try run(ffprobePath!, ["-v", "error", "-show_streams", "-show_format", "-count_frames", "-of", "json", file])
        guard r.status == 0,
              let json = try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any] else {
            throw ProbeError(message: "ffprobe failed (\(r.status)): \(r.stderr)")
        }
        streams = json["streams"] as? [[String: Any]] ?? []
        format = json["format"] as? [String: Any] ?? [:]
    }

    func stream(_ type: String) -> [String: Any]? { streams.first { $0["codec_type"] as? String == type } }
    var duration: Double? { (format["duration"] as? String).flatMap(Double.init) }
}

struct ProbeError: Error, CustomStringConvertible { var message: String; var description: String { message } }

func int(_ value: Any?) -> Int? {
    if let s = value as? String { return Int(s) }
    return value as? Int
}

/// A fresh directory under the temporary directory, removed by the caller.
func makeTempDir() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flowrec-webm-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func fileExists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

/// Decodes the audio of `file` to mono 48 kHz s16le with ffmpeg.
func decodeAudio(_ file: String) throws -> [Int16] {
    let r = try run(ffmpegPath!, ["-v", "error", "-i", file, "-vn", "-f", "s16le", "-ac", "1", "-ar", "48000", "-"])
    guard r.status == 0 else { throw ProbeError(message: "ffmpeg audio decode failed: \(r.stderr)") }
    return r.stdout.withUnsafeBytes { raw in Array(raw.bindMemory(to: Int16.self)) }
}

/// Decodes the first `count` pictures of `file` to I420 at `width`×`height` with ffmpeg.
func decodeVideo(_ file: String, width: Int, height: Int, count: Int) throws -> [I420Frame] {
    let r = try run(ffmpegPath!, ["-v", "error", "-i", file, "-an", "-frames:v", "\(count)",
                                  "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "\(width)x\(height)", "-"])
    guard r.status == 0 else { throw ProbeError(message: "ffmpeg video decode failed: \(r.stderr)") }
    let ySize = width * height, cSize = ((width + 1) / 2) * ((height + 1) / 2)
    let frameSize = ySize + 2 * cSize
    let bytes = [UInt8](r.stdout)
    return stride(from: 0, to: bytes.count - frameSize + 1, by: frameSize).map { off in
        var f = I420Frame(width: width, height: height)
        f.y = Array(bytes[off..<(off + ySize)])
        f.u = Array(bytes[(off + ySize)..<(off + ySize + cSize)])
        f.v = Array(bytes[(off + ySize + cSize)..<(off + frameSize)])
        return f
    }
}
