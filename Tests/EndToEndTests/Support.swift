import Foundation
import Media
import Testing

/// Helpers that run flowrec and the reference tools (ffprobe, ffmpeg, janus-pp-rec) as processes.
enum Tool {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The flowrec binary: `$FLOWREC_BIN`, else the debug build beside the tests.
    static var flowrec: String {
        if let bin = ProcessInfo.processInfo.environment["FLOWREC_BIN"], !bin.isEmpty { return bin }
        return packageRoot + "/.build/debug/flowrec"
    }

    static func exists(_ tool: String) -> Bool {
        ["/usr/bin/", "/usr/local/bin/", "/bin/"].contains { FileManager.default.isExecutableFile(atPath: $0 + tool) }
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var output: Data
    }

    /// Runs `executable` with `arguments`, collecting output (stdout as bytes too).
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/" + executable)
        process.arguments = arguments
        let out = Pipe()
        // stderr goes to a file so a chatty child can never block on a full pipe.
        let errPath = NSTemporaryDirectory() + "flowrec-stderr-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        let err = FileHandle(forWritingAtPath: errPath)!
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try? err.close()
        let errData = FileManager.default.contents(atPath: errPath) ?? Data()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self), output: outData)
    }

    /// Runs flowrec; records the command line in the failure message.
    @discardableResult
    static func flowrec(_ arguments: String...) throws -> Result {
        try run(flowrec, arguments)
    }

    static func flowrec(arguments: [String]) throws -> Result {
        try run(flowrec, arguments)
    }

    /// A fresh temporary folder.
    static func temporaryFolder(_ name: String = #function) throws -> String {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let path = NSTemporaryDirectory() + "flowrec-e2e-\(safe)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// What ffprobe says of a media file.
struct Probe {
    struct Stream {
        var codec: String
        var type: String
        var width: Int?
        var height: Int?
        var frames: Int?
        var duration: Double?
    }
    var streams: [Stream]
    var duration: Double

    var video: Stream? { streams.first { $0.type == "video" } }
    var audio: Stream? { streams.first { $0.type == "audio" } }

    init(_ path: String) throws {
        let result = try Tool.run("ffprobe", ["-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json", path])
        guard result.status == 0,
              let json = try JSONSerialization.jsonObject(with: result.output) as? [String: Any] else {
            throw ProbeError(message: "ffprobe \(path) failed: \(result.stderr)")
        }
        let format = json["format"] as? [String: Any] ?? [:]
        duration = Double(format["duration"] as? String ?? "") ?? 0
        streams = (json["streams"] as? [[String: Any]] ?? []).map { s in
            Stream(codec: s["codec_name"] as? String ?? "", type: s["codec_type"] as? String ?? "",
                   width: s["width"] as? Int, height: s["height"] as? Int,
                   frames: Int(s["nb_read_frames"] as? String ?? ""), duration: Double(s["duration"] as? String ?? ""))
        }
    }
}

struct ProbeError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

enum Decode {
    /// The file's audio as 48 kHz mono samples (decoded by ffmpeg).
    static func audio(_ path: String, start: Double? = nil, seconds: Double? = nil) throws -> [Int16] {
        var args = ["-v", "error"]
        if let start { args += ["-ss", String(start)] }
        args += ["-i", path]
        if let seconds { args += ["-t", String(seconds)] }
        args += ["-vn", "-f", "s16le", "-ac", "1", "-ar", "48000", "-"]
        let result = try Tool.run("ffmpeg", args)
        guard result.status == 0 else { throw ProbeError(message: "ffmpeg audio decode of \(path): \(result.stderr)") }
        return result.output.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
    }

    /// The picture shown at `time` (decoded by ffmpeg).
    static func picture(_ path: String, at time: Double, width: Int, height: Int) throws -> I420Frame {
        let result = try Tool.run("ffmpeg", ["-v", "error", "-ss", String(time), "-i", path, "-frames:v", "1",
                                             "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"])
        let lumaSize = width * height
        let chroma = ((width + 1) / 2) * ((height + 1) / 2)
        guard result.status == 0, result.output.count >= lumaSize + 2 * chroma else {
            throw ProbeError(message: "ffmpeg picture decode of \(path) at \(time): \(result.output.count) bytes, \(result.stderr)")
        }
        let bytes = [UInt8](result.output)
        var frame = I420Frame(width: width, height: height)
        frame.y = Array(bytes[0..<lumaSize])
        frame.u = Array(bytes[lumaSize..<(lumaSize + chroma)])
        frame.v = Array(bytes[(lumaSize + chroma)..<(lumaSize + 2 * chroma)])
        return frame
    }

    /// Key-frame flags of the first `count` video packets (ffprobe).
    static func videoKeyFlags(_ path: String, count: Int) throws -> [Bool] {
        let result = try Tool.run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=flags",
                                              "-read_intervals", "%+#\(count)", "-of", "csv=p=0", path])
        return result.stdout.split(separator: "\n").map { $0.contains("K") }
    }

    /// Errors ffmpeg reports while decoding the whole file (empty when clean). Frames keep the file's
    /// own time base (`-enc_time_base -1`): ffmpeg's default 1/fps would round the jittered capture
    /// times of a live sender onto one tick and report that as non-monotonic output.
    static func errors(_ path: String) throws -> String {
        let result = try Tool.run("ffmpeg", ["-v", "error", "-i", path, "-enc_time_base", "-1", "-f", "null", "-"])
        return result.stderr + (result.status == 0 ? "" : "exit \(result.status)")
    }
}

/// flowrec's log lines as a test reads them: stderr not being a terminal, one JSON object a line.
enum LogLines {
    /// Every line of `text` that is a JSON object, as a dictionary.
    static func entries(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    /// The messages (`msg`) of the lines at `level` (`error`, `warning`, `info`, …).
    static func messages(_ text: String, level: String) -> [String] {
        entries(text).filter { $0["level"] as? String == level }.compactMap { $0["msg"] as? String }
    }
}
