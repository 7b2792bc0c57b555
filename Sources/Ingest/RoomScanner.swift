import Capture
import Media
import RTP

/// Pass one over a room's inputs: finds streams, codecs, participants and clock mappings,
/// reading packet headers only.
public enum RoomScanner {
    /// More distinct SSRCs than this in one room is taken as garbage; the rest are ignored.
    public static let maxStreams = 1024

    /// Scans `paths`. Throws on unreadable or malformed inputs (the error names file and offset).
    public static func scan(paths: [String], options: IngestOptions = IngestOptions()) throws -> RoomInventory {
        guard !paths.isEmpty else { throw IngestError("no input files") }
        let merged = try MergedPacketStream(paths: paths)
        var order: [StreamKey] = []
        var infos: [StreamKey: StreamInfo] = [:]
        var sniffers: [StreamKey: CodecSniffer] = [:]
        var cnames: [StreamKey: String] = [:]
        var reports: [StreamKey: ClockMapping] = [:]
        var warnings: [String] = []
        var ignoredStreams = 0
        var badPackets = 0
        var badRTCP = 0
        var first = Int64.max
        var last = Int64.min
        let ptCodecs = options.sdpPayloadTypes.merging(options.payloadTypes) { _, explicit in explicit }
        let repairTypes = options.sdpRepairPayloadTypes
        let mjrHeaders: [Int: MJRHeader] = Dictionary(uniqueKeysWithValues: merged.inputs.enumerated().compactMap { i, reader in
            (reader as? MJRReader).map { (i, $0.header) }
        })

        while let sourced = try merged.next() {
            let data = sourced.packet.data
            if isRTCP(data) {
                do {
                    for rtcp in try RTCP.parseCompound(data) {
                        switch rtcp {
                        case .senderReport(let sr):
                            let key = StreamKey(input: sourced.input, ssrc: sr.ssrc)
                            if reports[key] == nil {
                                reports[key] = ClockMapping(wallMicros: NTPTime.unixMicros(fromNTP: sr.ntpTimestamp), rtpTimestamp: sr.rtpTimestamp)
                            }
                        case .sourceDescription(let chunks):
                            for chunk in chunks {
                                if let cname = chunk.cname { cnames[StreamKey(input: sourced.input, ssrc: chunk.ssrc)] = cname }
                            }
                        default: break
                        }
                    }
                } catch {
                    badRTCP += 1
                }
                continue
            }
            guard let packet = try? RTPPacket(parsing: data) else {
                badPackets += 1
                continue
            }
            let key = StreamKey(input: sourced.input, ssrc: packet.ssrc)
            let arrival = sourced.packet.arrivalMicros
            if infos[key] == nil {
                guard infos.count < maxStreams else {
                    ignoredStreams += 1
                    continue
                }
                if repairTypes.contains(packet.payloadType) { continue }
                var codec: Codec?
                var source = "sniffed"
                if let header = mjrHeaders[sourced.input], let c = Codec(encodingName: header.codec) {
                    codec = c
                    source = "mjr header"
                } else if let c = options.payloadTypes[packet.payloadType] {
                    codec = c
                    source = "--pt"
                } else if let c = ptCodecs[packet.payloadType] {
                    codec = c
                    source = "sdp"
                }
                let participant = participantName(for: key, path: paths[sourced.input], flow: sourced.packet.flow, options: options)
                infos[key] = StreamInfo(key: key, codec: codec, codecSource: source, payloadType: packet.payloadType,
                                        participant: participant, firstArrivalMicros: arrival, lastArrivalMicros: arrival)
                if codec == nil { sniffers[key] = CodecSniffer() }
                order.append(key)
            }
            infos[key]!.packets += 1
            infos[key]!.payloadBytes += packet.payload.count
            infos[key]!.lastArrivalMicros = max(infos[key]!.lastArrivalMicros, arrival)
            if sniffers[key]?.wantsMore == true { sniffers[key]!.add(packet) }
            first = min(first, arrival)
            last = max(last, arrival)
        }

        for (key, sniffer) in sniffers {
            if let codec = sniffer.guess() {
                infos[key]!.codec = codec
            } else {
                infos[key]!.codecSource = "unknown (payload type \(infos[key]!.payloadType); give --pt or --sdp)"
                warnings.append("\(paths[key.input]): \(hex(key.ssrc)): codec not recognised, stream ignored; give --pt \(infos[key]!.payloadType)=CODEC or --sdp")
            }
        }
        // RTCP and SDP CNAMEs group SSRCs of one endpoint into one participant (unless named explicitly).
        let sdpCNames = options.sdpCNames
        for key in order {
            infos[key]!.senderReport = reports[key]
            let cname = cnames[key] ?? sdpCNames[key.ssrc]
            infos[key]!.cname = cname
            if let cname, explicitParticipant(path: paths[key.input], options: options) == nil,
               mjrHeaders[key.input] == nil {
                infos[key]!.participant = safeFileName(cname)
            }
        }
        warnings += merged.warnings.map(\.description)
        if ignoredStreams > 0 { warnings.append("more than \(maxStreams) SSRCs: \(ignoredStreams) packets of further streams ignored") }
        if badPackets > 0 { warnings.append("\(badPackets) packets that are neither valid RTP nor RTCP skipped") }
        if badRTCP > 0 { warnings.append("\(badRTCP) malformed RTCP packets skipped") }

        var participants: [ParticipantInfo] = []
        for key in order {
            let name = infos[key]!.participant
            if let i = participants.firstIndex(where: { $0.name == name }) {
                participants[i].streams.append(key)
            } else {
                participants.append(ParticipantInfo(name: name, streams: [key]))
            }
        }
        return RoomInventory(inputs: paths, streams: order.map { infos[$0]! }, participants: participants,
                             firstArrivalMicros: first == .max ? 0 : first, lastArrivalMicros: last == .min ? 0 : last,
                             warnings: warnings)
    }

    private static func explicitParticipant(path: String, options: IngestOptions) -> String? {
        let base = String(path.split(separator: "/").last ?? "")
        return options.participantByFile[path] ?? options.participantByFile[base]
    }

    /// The participant of a stream before CNAMEs are known: explicit mapping, Janus file name,
    /// the UDP source, or the SSRC.
    static func participantName(for key: StreamKey, path: String, flow: UDPFlow?, options: IngestOptions) -> String {
        if let name = explicitParticipant(path: path, options: options) { return safeFileName(name) }
        if path.hasSuffix(".mjr") {
            if let janus = JanusRecordingName(path: path) { return safeFileName(janus.user) }
            let base = String(path.split(separator: "/").last ?? "").dropLast(4)
            return safeFileName(String(base))
        }
        if let flow { return safeFileName("\(flow.source)-\(flow.sourcePort)") }
        return safeFileName("ssrc-\(hex(key.ssrc))")
    }
}
