import Capture
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The capture readers take paths: each input is written to one scratch file (on tmpfs when there
/// is one) and read to its end, the way `transcode` reads a capture.
enum CaptureFuzz {
    /// Path and descriptor of the scratch file, made once per process.
    nonisolated(unsafe) private static var scratch: (path: String, fd: Int32)?

    static func run(_ target: FuzzTarget, _ data: [UInt8]) {
        let path = write(data)
        _ = try? CaptureFormat.detect(prefix: Array(data.prefix(16)))
        do {
            let reader: any PacketReader
            switch target {
            case .mjr: reader = try MJRReader(path: path)
            case .pcap: reader = try PcapReader(path: path)
            case .pcapng: reader = try PcapngReader(path: path)
            default: reader = try RTPDumpReader(path: path)
            }
            var packets = 0
            while let packet = try reader.next() {
                packets += 1
                // Every packet read comes from the input: more packets than bytes is a bug.
                precondition(packets <= data.count + 1, "more packets (\(packets)) than input bytes")
                _ = packet
            }
            _ = reader.warnings
            // the reader (and its file) closes when it goes away
        } catch {
            _ = error.description
        }
    }

    private static func write(_ data: [UInt8]) -> String {
        if scratch == nil {
            let dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
            var template = Array("\(dir)/flowrec-fuzz-XXXXXX".utf8CString)
            let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            precondition(fd >= 0, "cannot create a scratch file in \(dir)")
            let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            unlinkOnExit(path)
            scratch = (path, fd)
        }
        let (path, fd) = scratch!
        precondition(ftruncate(fd, 0) == 0)
        let written = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        precondition(written == data.count, "short write to \(path)")
        return path
    }

    nonisolated(unsafe) private static var pathToUnlink: [CChar] = []

    private static func unlinkOnExit(_ path: String) {
        pathToUnlink = Array(path.utf8CString)
        atexit { CaptureFuzz.pathToUnlink.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) } }
    }
}
