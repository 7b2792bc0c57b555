import CFFmpeg
import CShims
import Media
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure to create, write or finish a WebM file.
public struct WebMError: Error, Sendable, CustomStringConvertible {
    /// The final path of the file concerned.
    public var path: String
    /// What failed, with libavformat's error text (`av_err2str`) when it comes from there.
    public var reason: String
    /// The file could not be created: it exists and overwriting was not allowed, or the folder
    /// refuses it (permission, read-only file system).
    public var cannotCreate: Bool

    public init(path: String, reason: String, cannotCreate: Bool = false) {
        self.path = path
        self.reason = reason
        self.cannotCreate = cannotCreate
    }

    public var description: String { "\(path): \(reason)" }
}

/// One track of a WebM file.
public enum WebMTrack: Sendable, Equatable {
    /// VP8 or VP9. `width`/`height` are the track's declared size — the first picture's size.
    /// Later size changes are carried in-band by keyframes and followed by decoders.
    case video(codec: Codec, width: Int, height: Int)
    /// Opus. `preSkip` is the encoder lookahead in 48 kHz samples (`OpusEncoder.lookahead`);
    /// 0 for passthrough of packets whose encoder delay is unknown.
    case audio(codec: Codec, sampleRate: Int, channels: Int, preSkip: Int)
}

/// Writes a WebM file with libavformat's Matroska muxer.
///
/// Lifecycle: `init` creates `path + ".partial"` and writes the header; `write` adds frames,
/// which callers hand over in time order across tracks (as a room's frames arrive; Matroska
/// clusters tolerate the small disorder of jitter); `finish` writes the trailer
/// (segment duration, cues — at the end of the file, libavformat's default), closes, fsyncs
/// and renames the partial file to `path`. `abort` closes and deletes (or keeps) the partial
/// file. A writer dropped without either keeps the partial file, as a crash would.
///
/// Timestamps: `ptsMillis` is in milliseconds (the Matroska time base).
/// - It should be non-decreasing per track. A timestamp equal to or before the previous one
///   on the same track is **nudged to previous + 1 ms** (and counted in `timestampsAdjusted`)
///   so the file stays valid and strictly ordered; nothing is dropped.
/// - Audio: `ptsMillis` is the time of the packet's first *input* sample (packet n of a 20 ms
///   stream starting at T is at T + 20n). The pre-skip is declared as the track's CodecDelay
///   (`initial_padding`); libavformat stores blocks offset by it and demuxers subtract it, so a
///   reader sees the packets `preSkip/48` ms earlier and, after trimming the pre-skip, the first
///   real sample plays at T — in sync with video stamped on the same clock.
/// - Audio packets are all marked as keyframes (every Opus packet is decodable on its own);
///   for video `isKeyframe` sets `AV_PKT_FLAG_KEY`, which is what the cues index.
/// - `durationMillis` nil: for Opus it is read from the packet's TOC byte (RFC 6716 §3.1); for
///   video it is left unset (Matroska infers it from the next frame).
/// - `discardPaddingSamples` (audio): that many 48 kHz samples at the end of the packet's decoded
///   output are not played (Matroska DiscardPadding) — how a file's last Opus packet ends the
///   audio exactly where the file ends.
///
/// Memory: one `AVPacket` is reused for every frame and borrows the frame's bytes while
/// `av_write_frame` writes them: no allocation or copy per frame.
///
/// Owns the `AVFormatContext` (streams, extradata, `AVIOContext`) and the `AVPacket`, all freed
/// by `finish`, `abort` or `deinit`. `@unchecked Sendable`: not internally synchronised, no shared
/// state — one owner at a time may drive it from any thread.
public final class WebMWriter: @unchecked Sendable {
    public let path: String
    public let partialPath: String
    public let tracks: [WebMTrack]
    /// Frames accepted per track (by index into `tracks`).
    public private(set) var framesWritten: [Int]
    /// How many timestamps were nudged forward to keep a track strictly increasing.
    public private(set) var timestampsAdjusted = 0

    private var ctx: UnsafeMutablePointer<AVFormatContext>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var lastPts: [Int64?]
    private var state: State = .open

    private enum State { case open, finished, aborted, failed }

    /// Opens `path + ".partial"` for writing; refuses to overwrite an existing `path` unless
    /// `overwrite` is true (the existing file is then replaced atomically by `finish`).
    public init(path: String, tracks: [WebMTrack], overwrite: Bool = false) throws(WebMError) {
        self.path = path
        self.partialPath = path + ".partial"
        self.tracks = tracks
        self.framesWritten = Array(repeating: 0, count: tracks.count)
        self.lastPts = Array(repeating: nil, count: tracks.count)

        guard !tracks.isEmpty else { throw WebMError(path: path, reason: "no tracks") }
        if !overwrite && access(path, F_OK) == 0 {
            throw WebMError(path: path, reason: "file exists; refusing to overwrite it (pass overwrite: true)", cannotCreate: true)
        }
        do {
            try openContext()
        } catch {
            release(removePartial: true)
            throw error
        }
    }

    deinit {
        // Frees whatever is still held (after a failed write or finish too); keeps the partial file.
        release(removePartial: false)
    }

    private func fail(_ what: String, _ code: Int32) -> WebMError {
        WebMError(path: path, reason: "\(what): \(avErrorText(code))")
    }

    private func openContext() throws(WebMError) {
        var octx: UnsafeMutablePointer<AVFormatContext>? = nil
        var ret = avformat_alloc_output_context2(&octx, nil, "webm", partialPath)
        guard ret >= 0, let octx else { throw fail("avformat_alloc_output_context2", ret) }
        ctx = octx

        for (index, track) in tracks.enumerated() {
            guard let st = avformat_new_stream(octx, nil) else {
                throw WebMError(path: path, reason: "avformat_new_stream failed for track \(index)")
            }
            let par = st.pointee.codecpar!
            st.pointee.time_base = AVRational(num: 1, den: 1000)
            switch track {
            case let .video(codec, width, height):
                guard codec == .vp8 || codec == .vp9 else {
                    throw WebMError(path: path, reason: "track \(index): WebM video must be VP8 or VP9, not \(codec.rawValue)")
                }
                guard width > 0, height > 0 else {
                    throw WebMError(path: path, reason: "track \(index): invalid size \(width)x\(height)")
                }
                par.pointee.codec_type = AVMEDIA_TYPE_VIDEO
                par.pointee.codec_id = codec == .vp8 ? AV_CODEC_ID_VP8 : AV_CODEC_ID_VP9
                par.pointee.width = Int32(width)
                par.pointee.height = Int32(height)
                par.pointee.format = AV_PIX_FMT_YUV420P.rawValue
            case let .audio(codec, sampleRate, channels, preSkip):
                guard codec == .opus else {
                    throw WebMError(path: path, reason: "track \(index): WebM audio must be Opus, not \(codec.rawValue)")
                }
                guard (1...2).contains(channels), sampleRate > 0, (0...65_535).contains(preSkip) else {
                    throw WebMError(path: path, reason: "track \(index): invalid Opus parameters (channels \(channels), rate \(sampleRate), pre-skip \(preSkip))")
                }
                par.pointee.codec_type = AVMEDIA_TYPE_AUDIO
                par.pointee.codec_id = AV_CODEC_ID_OPUS
                // Matroska Opus always runs at 48 kHz; the input rate is informational (OpusHead).
                par.pointee.sample_rate = 48_000
                av_channel_layout_default(&par.pointee.ch_layout, Int32(channels))
                par.pointee.initial_padding = Int32(preSkip)  // → CodecDelay
                par.pointee.seek_preroll = 3_840             // 80 ms, RFC 7845 recommendation
                let head = opusHead(channels: channels, preSkip: preSkip, inputSampleRate: sampleRate)
                guard let extradata = av_mallocz(head.count + Int(AV_INPUT_BUFFER_PADDING_SIZE)) else {
                    throw WebMError(path: path, reason: "av_mallocz failed for OpusHead")
                }
                let bytes = extradata.bindMemory(to: UInt8.self, capacity: head.count)
                bytes.update(from: head, count: head.count)
                par.pointee.extradata = bytes         // freed with the stream by avformat_free_context
                par.pointee.extradata_size = Int32(head.count)
            }
        }

        // A symbolic link planted at the .partial's name would make libavformat write through it.
        var info = stat()
        if lstat(partialPath, &info) == 0, info.st_mode & S_IFMT == S_IFLNK {
            var error = WebMError(path: partialPath, reason: "it is a symbolic link (not followed)")
            error.cannotCreate = true
            throw error
        }
        ret = avio_open(&octx.pointee.pb, partialPath, AVIO_FLAG_WRITE)
        guard ret >= 0 else {
            var error = fail("avio_open \(partialPath)", ret)
            error.cannotCreate = [EACCES, EPERM, EROFS].contains(-ret)
            throw error
        }
        ret = avformat_write_header(octx, nil)
        guard ret >= 0 else { throw fail("avformat_write_header", ret) }

        guard let pkt = av_packet_alloc() else {
            throw WebMError(path: path, reason: "av_packet_alloc failed")
        }
        packet = pkt
    }

    /// Writes one frame (see the type's notes on timestamps).
    public func write(track: Int, data: [UInt8], ptsMillis: Int64, isKeyframe: Bool,
                      durationMillis: Int64? = nil, discardPaddingSamples: Int = 0) throws(WebMError) {
        guard state == .open, let ctx, let packet else {
            throw WebMError(path: path, reason: "write after the writer was \(state == .finished ? "finished" : "closed")")
        }
        guard tracks.indices.contains(track) else {
            throw WebMError(path: path, reason: "no track \(track) (file has \(tracks.count))")
        }
        guard !data.isEmpty else {
            throw WebMError(path: path, reason: "track \(track): empty frame at \(ptsMillis) ms")
        }
        var pts = ptsMillis
        if let last = lastPts[track], pts <= last {
            pts = last + 1
            timestampsAdjusted += 1
        }
        lastPts[track] = pts

        var duration = durationMillis
        var keyframe = isKeyframe
        var padding = 0
        if case .audio = tracks[track] {
            keyframe = true
            padding = discardPaddingSamples
            if duration == nil, let samples = OpusPacketInfo.sampleCount(data) {
                duration = Int64((samples + 24) / 48)
            }
        }

        let st = ctx.pointee.streams[track]!
        let ms = AVRational(num: 1, den: 1000)
        let ts = av_rescale_q(pts, ms, st.pointee.time_base)
        // The packet borrows `data` (no reference-counted buffer, no copy): av_write_frame writes
        // it before returning. Callers hand frames over in time order across tracks (the room's
        // arrival order), which is the interleaving Matroska clusters need.
        let ret = data.withUnsafeBufferPointer { src -> Int32 in
            packet.pointee.data = UnsafeMutablePointer(mutating: src.baseAddress!)
            packet.pointee.size = Int32(src.count)
            packet.pointee.pts = ts
            packet.pointee.dts = ts
            packet.pointee.duration = duration.map { av_rescale_q(max(0, $0), ms, st.pointee.time_base) } ?? 0
            packet.pointee.flags = keyframe ? AV_PKT_FLAG_KEY : 0
            packet.pointee.stream_index = Int32(track)
            if padding > 0, let side = av_packet_new_side_data(packet, AV_PKT_DATA_SKIP_SAMPLES, 10) {
                // AV_PKT_DATA_SKIP_SAMPLES: u32le samples to skip at the start, u32le to discard at the end, 2 reason bytes.
                let end = UInt32(clamping: padding)
                for i in 0..<10 { side[i] = (4..<8).contains(i) ? UInt8(truncatingIfNeeded: end >> (8 * UInt32(i - 4))) : 0 }
            }
            let ret = av_write_frame(ctx, packet)
            if padding > 0 { av_packet_free_side_data(packet) }
            packet.pointee.data = nil
            packet.pointee.size = 0
            return ret
        }
        guard ret >= 0 else {
            state = .failed
            throw fail("av_write_frame (track \(track), \(ptsMillis) ms)", ret)
        }
        framesWritten[track] += 1
    }

    /// Writes the trailer (duration, cues), closes, fsyncs and renames `.partial` to the final path.
    /// On failure the partial file is left in place for inspection.
    public func finish() throws(WebMError) {
        guard state == .open || state == .failed, let ctx else {
            throw WebMError(path: path, reason: "finish after the writer was \(state == .finished ? "finished" : "closed")")
        }
        let ret = av_write_trailer(ctx)
        let closeRet = avio_closep(&ctx.pointee.pb)
        release(removePartial: false)
        state = .failed
        guard ret >= 0 else { throw fail("av_write_trailer", ret) }
        guard closeRet >= 0 else { throw fail("avio_closep", closeRet) }

        try fsyncPath(partialPath)
        guard rename(partialPath, path) == 0 else {
            throw WebMError(path: path, reason: "rename \(partialPath): \(String(cString: strerror(errno)))")
        }
        // Persist the rename too (best effort: the file itself is already durable).
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        _ = try? fsyncPath(dir.isEmpty ? "/" : dir)
        state = .finished
    }

    /// Closes and removes the partial file (or keeps it when `keepPartial`). Safe to call more than once.
    public func abort(keepPartial: Bool = false) {
        guard state == .open || state == .failed else { return }
        release(removePartial: !keepPartial)
        state = .aborted
    }

    /// Frees every libav object; optionally deletes the partial file.
    private func release(removePartial: Bool) {
        if let packet {
            var p: UnsafeMutablePointer<AVPacket>? = packet
            av_packet_free(&p)
            self.packet = nil
        }
        if let ctx {
            if ctx.pointee.pb != nil { avio_closep(&ctx.pointee.pb) }
            avformat_free_context(ctx)
            self.ctx = nil
        }
        if removePartial { unlink(partialPath) }
    }

    private func fsyncPath(_ p: String) throws(WebMError) {
        let fd = open(p, O_RDONLY)
        guard fd >= 0 else {
            throw WebMError(path: path, reason: "open \(p) for fsync: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        guard fsync(fd) == 0 else {
            throw WebMError(path: path, reason: "fsync \(p): \(String(cString: strerror(errno)))")
        }
    }
}

/// The Opus identification header (RFC 7845 §5.1), Matroska's Opus CodecPrivate:
/// "OpusHead", version 1, channels, pre-skip, input sample rate, output gain 0, mapping family 0.
func opusHead(channels: Int, preSkip: Int, inputSampleRate: Int) -> [UInt8] {
    var head = Array("OpusHead".utf8)
    head.append(1)
    head.append(UInt8(channels))
    head.append(UInt8(preSkip & 0xFF)); head.append(UInt8(preSkip >> 8))
    let rate = UInt32(inputSampleRate)
    for shift in stride(from: 0, to: 32, by: 8) { head.append(UInt8((rate >> UInt32(shift)) & 0xFF)) }
    head += [0, 0]  // output gain
    head.append(0)  // channel mapping family 0 (mono/stereo)
    return head
}
