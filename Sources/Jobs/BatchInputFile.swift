import Capture
import Foundation
import Ingest
import Media

/// One capture file found below the batch folders, with what grouping and the skip check need.
public struct BatchInputFile: Sendable, Equatable {
    public var path: String
    /// The Janus videoroom name's parts; nil for other files.
    public var janus: JanusRecordingName?
    /// Unix µs: the start in a Janus name, else the first packet's time; nil when unknown.
    public var startMicros: Int64?
    /// Unix µs of the file's last frame, when known.
    public var endMicros: Int64?
    /// For Janus files: whether the file can give its participant a file of its own (Opus audio
    /// or VP8/VP9 video with at least one frame). Unknown (an unreadable header) counts as true.
    public var hasMedia: Bool
    public var bytes: Int64
    public var modified: Date?

    public init(path: String, startMicros: Int64? = nil, endMicros: Int64? = nil, hasMedia: Bool = true,
                bytes: Int64 = 0, modified: Date? = nil) {
        self.path = path
        janus = JanusRecordingName(path: path)
        self.startMicros = startMicros ?? janus?.startMicros
        self.endMicros = endMicros
        self.hasMedia = hasMedia
        self.bytes = bytes
        self.modified = modified
    }

    /// The end of the file's span for session chaining (its start when the end is unknown).
    var spanEndMicros: Int64 { max(endMicros ?? startMicros ?? 0, startMicros ?? 0) }

    /// Reads what grouping needs: for Janus files the info header and the last frame's time
    /// (from the file's tail; the rest of the file is not read); for others the first packet.
    /// Never throws: a file that cannot be read here fails later, in its group's transcode.
    public static func inspect(path: String) -> BatchInputFile {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let bytes = (attributes?[.size] as? NSNumber)?.int64Value ?? 0
        let modified = attributes?[.modificationDate] as? Date
        var file = BatchInputFile(path: path, bytes: bytes, modified: modified)
        if file.janus != nil {
            guard let reader = try? MJRReader(path: path) else { return file }
            reader.close()
            file.describeJanusMedia(header: reader.header) { MJRTail.lastFrameMillis(path: path, size: bytes) }
        } else if let reader = try? openCaptureReader(path: path) {
            if let first = try? reader.next() { file.startMicros = first.arrivalMicros }
        }
        return file
    }

    /// Sets ``hasMedia`` and ``endMicros`` of a Janus file from its info header and, for timed
    /// (MJR00002) files, its last frame's time in ms after the first packet; `lastFrameMillis` is
    /// only called for those, and nil means no frame was found. Legacy files have media when they
    /// hold more than their header.
    mutating func describeJanusMedia(header: MJRHeader, lastFrameMillis: () -> Int64?) {
        guard let janus else { return }
        let codec = Codec(encodingName: header.codec)
        let mediaCodec = header.kind == .audio ? codec == .opus : header.kind == .video && (codec == .vp8 || codec == .vp9)
        if header.isLegacy {
            hasMedia = mediaCodec && bytes > 32
            return
        }
        let lastMillis = lastFrameMillis()
        hasMedia = mediaCodec && lastMillis != nil
        if let lastMillis {
            // The name's start is when Janus created the recorder; frames count from the first packet.
            let firstPacketDelay = max(0, header.firstPacketMicros - header.createdMicros)
            endMicros = janus.startMicros + firstPacketDelay + lastMillis * 1000
        }
    }
}
