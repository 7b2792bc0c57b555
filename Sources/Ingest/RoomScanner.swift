import Capture
import Media
import RTP

/// Pass one over a room's inputs: finds streams, codecs, participants and clock mappings,
/// reading packet headers only. Inputs are scanned in parallel, one per core.
public enum RoomScanner {
    /// More distinct SSRCs than this in one input is taken as garbage; the rest are ignored.
    public static let maxStreams = 1024

    /// Scans `paths`. Throws on unreadable or malformed inputs (the error names file and offset).
    public static func scan(paths: [String], options: IngestOptions = IngestOptions()) throws -> RoomInventory {
        guard !paths.isEmpty else { throw IngestError("no input files") }
        let scans = try concurrentMap(Array(paths.enumerated())) { input, path in
            try InputScan(path: path, input: input, options: options)
        }
        // Streams of all inputs in order of first appearance (input order breaks ties).
        var streams = scans.flatMap(\.streams).enumerated()
            .sorted { ($0.element.firstArrivalMicros, $0.offset) < ($1.element.firstArrivalMicros, $1.offset) }.map(\.element)
        // RTCP and SDP CNAMEs group SSRCs of one endpoint into one participant (unless named explicitly).
        let sdpCNames = options.sdpCNames
        for i in streams.indices {
            let scan = scans[streams[i].key.input]
            let cname = scan.cnames[streams[i].key.ssrc] ?? sdpCNames[streams[i].key.ssrc]
            streams[i].cname = cname
            if let cname, explicitParticipant(path: scan.path, options: options) == nil, !scan.isMJR {
                streams[i].participant = safeFileName(cname)
            }
        }
        var participants: [ParticipantInfo] = []
        for info in streams {
            if let i = participants.firstIndex(where: { $0.name == info.participant }) {
                participants[i].streams.append(info.key)
            } else {
                participants.append(ParticipantInfo(name: info.participant, streams: [info.key]))
            }
        }
        let withMedia = scans.filter { $0.first <= $0.last }
        return RoomInventory(inputs: paths, streams: streams, participants: participants,
                             firstArrivalMicros: withMedia.map(\.first).min() ?? 0, lastArrivalMicros: withMedia.map(\.last).max() ?? 0,
                             warnings: scans.flatMap(\.warnings))
    }

    static func explicitParticipant(path: String, options: IngestOptions) -> String? {
        let base = String(path.split(separator: "/").last ?? "")
        return options.participantByFile[path] ?? options.participantByFile[base] ?? liveCaptureParticipant(path: path)
    }

    /// flowrec's own live captures, `<base>.capture/<participant>[@<n>].pcap`, are named by file
    /// (`@<n>` marks a later connection of the same participant), so a transcode or a recovery of
    /// the folder gives the same participants as the recording did.
    static func liveCaptureParticipant(path: String) -> String? {
        let parts = path.split(separator: "/")
        guard parts.count >= 2, parts[parts.count - 2].hasSuffix(".capture"), parts[parts.count - 1].hasSuffix(".pcap") else { return nil }
        // `@` never occurs in a safe file name, so it cannot be part of the participant's.
        let stem = parts[parts.count - 1].dropLast(5).split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)[0]
        return stem.isEmpty ? nil : String(stem)
    }

    /// The participant of a stream before CNAMEs are known: explicit mapping, Janus file name,
    /// the UDP source, or the SSRC.
    static func participantName(for key: StreamKey, path: String, isMJR: Bool, flow: UDPFlow?, options: IngestOptions) -> String {
        if let name = explicitParticipant(path: path, options: options) { return safeFileName(name) }
        if isMJR {
            if let janus = JanusRecordingName(path: path) { return safeFileName(janus.user) }
            var base = Substring(path.split(separator: "/").last ?? "")
            if base.hasSuffix(".mjr") { base = base.dropLast(4) }
            return safeFileName(String(base))
        }
        if let flow { return safeFileName("\(flow.source)-\(flow.sourcePort)") }
        return safeFileName("ssrc-\(hex(key.ssrc))")
    }
}

/// What one input holds: its streams (codecs resolved), CNAMEs and clock mappings by SSRC.
struct InputScan: Sendable {
    let path: String
    let isMJR: Bool
    var streams: [StreamInfo] = []
    var cnames: [UInt32: String] = [:]
    var first = Int64.max
    var last = Int64.min
    var warnings: [String] = []

    init(path: String, input: Int, options: IngestOptions) throws {
        self.path = path
        let reader = try openCaptureReader(path: path)
        let mjrCodec = (reader as? MJRReader).flatMap { Codec(encodingName: $0.header.codec) }
        isMJR = reader is MJRReader
        let ptCodecs = options.sdpPayloadTypes.merging(options.payloadTypes) { _, explicit in explicit }
        let repairTypes = options.sdpRepairPayloadTypes
        // `index` maps an SSRC to its slot: one hash lookup per packet.
        var index: [UInt32: Int] = [:]
        var sniffers: [CodecSniffer?] = []
        var reports: [UInt32: ClockMapping] = [:]
        var delays: [MinimumDelay] = []
        var ignoredStreams = 0
        var badPackets = 0
        var badRTCP = 0

        var clock = CaptureClockCorrector()
        var firstArrival: Int64?
        while let captured = try reader.next() {
            let data = captured.data
            let arrival = clock.correct(captured)
            if firstArrival == nil { firstArrival = arrival }
            if isRTCP(data) {
                do {
                    for rtcp in try RTCP.parseCompound(data) {
                        switch rtcp {
                        case .senderReport(let sr) where reports[sr.ssrc] == nil:
                            reports[sr.ssrc] = ClockMapping(wallMicros: NTPTime.unixMicros(fromNTP: sr.ntpTimestamp), rtpTimestamp: sr.rtpTimestamp)
                        case .sourceDescription(let chunks):
                            for chunk in chunks { if let cname = chunk.cname { cnames[chunk.ssrc] = cname } }
                        default: break
                        }
                    }
                } catch {
                    badRTCP += 1
                }
                continue
            }
            guard let header = RTPHeaderPeek(data) else {
                badPackets += 1
                continue
            }
            let slot: Int
            if let known = index[header.ssrc] {
                slot = known
            } else {
                guard streams.count < RoomScanner.maxStreams else {
                    ignoredStreams += 1
                    continue
                }
                if repairTypes.contains(header.payloadType) { continue }
                var codec: Codec?
                var source = "sniffed"
                if let c = mjrCodec {
                    codec = c
                    source = "mjr header"
                } else if let c = options.payloadTypes[header.payloadType] {
                    codec = c
                    source = "--pt"
                } else if let c = ptCodecs[header.payloadType] {
                    codec = c
                    source = "sdp"
                }
                let key = StreamKey(input: input, ssrc: header.ssrc)
                let participant = RoomScanner.participantName(for: key, path: path, isMJR: isMJR, flow: captured.flow, options: options)
                slot = streams.count
                index[header.ssrc] = slot
                streams.append(StreamInfo(key: key, codec: codec, codecSource: source, payloadType: header.payloadType,
                                          participant: participant, arrivalMicros: arrival))
                sniffers.append(codec == nil ? CodecSniffer() : nil)
                delays.append(MinimumDelay())
            }
            streams[slot].packets += 1
            streams[slot].bytes += data.count
            delays[slot].add(timestamp: header.timestamp, arrivalMicros: arrival)
            if arrival > streams[slot].lastArrivalMicros { streams[slot].lastArrivalMicros = arrival }
            if sniffers[slot]?.wantsMore == true, let packet = try? RTPPacket(parsing: data) {
                sniffers[slot]!.add(packet)
            }
            first = min(first, arrival)
            last = max(last, arrival)
        }

        for slot in streams.indices {
            streams[slot].senderReport = reports[streams[slot].key.ssrc]
            defer { streams[slot].arrivalMapping = streams[slot].codec.flatMap { delays[slot].mapping(clockRate: $0.clockRate) } }
            guard let sniffer = sniffers[slot] else { continue }
            if let codec = sniffer.guess() {
                streams[slot].codec = codec
            } else {
                let info = streams[slot]
                streams[slot].codecSource = "unknown (payload type \(info.payloadType); give --pt or --sdp)"
                warnings.append("\(path): \(hex(info.key.ssrc)): codec not recognised, stream ignored; give --pt \(info.payloadType)=CODEC or --sdp")
            }
        }
        warnings += reader.warnings.map(\.description)
        if let warning = clock.warning(path: path, originMicros: firstArrival ?? 0) { warnings.append(warning) }
        if ignoredStreams > 0 { warnings.append("\(path): more than \(RoomScanner.maxStreams) SSRCs: \(ignoredStreams) packets of further streams ignored") }
        if badPackets > 0 { warnings.append("\(path): \(badPackets) packets that are neither valid RTP nor RTCP skipped") }
        if badRTCP > 0 { warnings.append("\(path): \(badRTCP) malformed RTCP packets skipped") }
    }
}

/// Finds a stream's least-delayed packet: the one whose arrival minus media time is smallest,
/// for both RTP clock rates in use (the codec may only be known after the scan). A packet that
/// would be far less delayed than the best so far is after a forward timestamp jump (see
/// ``TimestampContinuity``) and does not count; neither can a hostile timestamp overflow.
public struct MinimumDelay: Sendable {
    private var unwrapper = TimestampUnwrapper()
    private var best48: (delay: Int64, mapping: ClockMapping)?
    private var best90: (delay: Int64, mapping: ClockMapping)?

    public init() {}

    /// One packet's RTP timestamp and arrival time.
    public mutating func add(timestamp: UInt32, arrivalMicros: Int64) {
        let ticks = unwrapper.unwrap(timestamp)
        let mapping = ClockMapping(wallMicros: arrivalMicros, rtpTimestamp: timestamp)
        let delay48 = arrivalMicros &- microsOfTicks(ticks, clockRate: 48_000)
        let delay90 = arrivalMicros &- microsOfTicks(ticks, clockRate: 90_000)
        if let best = best48?.delay {
            if delay48 < best, TimestampContinuity.isPlausibleMinimum(delay: delay48, best: best) { best48 = (delay48, mapping) }
        } else {
            best48 = (delay48, mapping)
        }
        if let best = best90?.delay {
            if delay90 < best, TimestampContinuity.isPlausibleMinimum(delay: delay90, best: best) { best90 = (delay90, mapping) }
        } else {
            best90 = (delay90, mapping)
        }
    }

    /// The least-delayed packet's arrival at its RTP timestamp, for a stream of `clockRate`.
    public func mapping(clockRate: Int) -> ClockMapping? { clockRate == 48_000 ? best48?.mapping : best90?.mapping }
}

/// The fixed RTP header fields the scan (and a live recording's outputs) need, read without
/// parsing the whole packet.
public struct RTPHeaderPeek: Sendable {
    public var payloadType: UInt8
    public var ssrc: UInt32
    public var timestamp: UInt32

    /// Nil unless the bytes start like an RTP version 2 packet (RTCP passes too: see `isRTCP`).
    public init?(_ bytes: [UInt8]) {
        guard bytes.count >= 12, bytes[0] >> 6 == 2 else { return nil }
        payloadType = bytes[1] & 0x7F
        timestamp = UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7])
        ssrc = UInt32(bytes[8]) << 24 | UInt32(bytes[9]) << 16 | UInt32(bytes[10]) << 8 | UInt32(bytes[11])
    }
}
