import Benchmark
import Capture
import Foundation
import Media
import RTP

/// Per-packet work on the remux path: parse, reorder, depacketize, read from a capture.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(2))

    let video = RTPPacket(payloadType: 96, sequenceNumber: 1, timestamp: 9000, ssrc: 0xABCD, marker: true,
                          extensions: [RTPHeaderExtension(id: 1, data: [0x80])], payload: [UInt8](repeating: 0x5A, count: 1100))
    let videoBytes = video.serialized()

    Benchmark("RTP parse (1.1 kB packet)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try? RTPPacket(parsing: videoBytes)) }
    }

    let compound = RTCP.serialize([
        .senderReport(SenderReport(ssrc: 1, ntpTimestamp: 0xE000_0000_0000_0000, rtpTimestamp: 1, packetCount: 2, octetCount: 3, reports: [])),
        .sourceDescription([SDESChunk(ssrc: 1, items: [SDESItem(type: 1, text: "user-1001")])]),
    ])
    Benchmark("RTCP compound parse (SR + SDES)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try? RTCP.parseCompound(compound)) }
    }

    // 1000 packets, every 20th swapped with its neighbour.
    let packets: [RTPPacket] = (0..<1000).map { i in
        let seq = i % 20 == 5 ? i + 1 : (i % 20 == 6 ? i - 1 : i)
        return RTPPacket(payloadType: 111, sequenceNumber: UInt16(truncatingIfNeeded: seq), timestamp: UInt32(seq * 960), ssrc: 7, payload: [1, 2, 3])
    }
    Benchmark("ReorderBuffer insert (1000 packets, 10% swapped)") { benchmark in
        for _ in benchmark.scaledIterations {
            var buffer = ReorderBuffer()
            for (i, p) in packets.enumerated() { blackHole(buffer.insert(p, arrivalMicros: Int64(i) * 20_000)) }
            blackHole(buffer.flush())
        }
    }

    // A 6-packet VP8 picture, as the packetizer makes it.
    var packetizer = VP8Packetizer()
    var frame = [UInt8](repeating: 0x11, count: 6_000)
    frame[0] = 0x10  // P bit set: an interframe header
    let payloads = packetizer.payloads(for: frame, isKeyframe: false)
    var keyframe = [UInt8](repeating: 0x22, count: 3_000)
    keyframe[0...9] = [0x50, 0x2A, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0x68, 0x01]
    let keyPayloads = packetizer.payloads(for: keyframe, isKeyframe: true)
    Benchmark("VP8 depacketize (6-packet picture)") { benchmark in
        var depacketizer = VP8Depacketizer()
        var seq: Int64 = 0
        var ts: Int64 = 0
        for payload in keyPayloads {
            let p = RTPPacket(payloadType: 96, sequenceNumber: UInt16(truncatingIfNeeded: seq), timestamp: 0, ssrc: 1,
                              marker: payload == keyPayloads.last!, payload: payload)
            blackHole(depacketizer.push(OrderedPacket(packet: p, sequence: seq, timestamp: ts, arrivalMicros: 0)))
            seq += 1
        }
        for _ in benchmark.scaledIterations {
            ts += 3000
            for (i, payload) in payloads.enumerated() {
                let p = RTPPacket(payloadType: 96, sequenceNumber: UInt16(truncatingIfNeeded: seq), timestamp: UInt32(truncatingIfNeeded: ts),
                                  ssrc: 1, marker: i == payloads.count - 1, payload: payload)
                blackHole(depacketizer.push(OrderedPacket(packet: p, sequence: seq, timestamp: ts, arrivalMicros: 0)))
                seq += 1
            }
        }
    }

    // Reading a 20,000-packet .mjr (about 4 MB) end to end.
    let mjrPath = NSTemporaryDirectory() + "flowrec-bench-hotpaths.mjr"
    if let writer = try? MJRWriter(path: mjrPath, kind: .video, codec: "vp8", createdMicros: 1_700_000_000_000_000) {
        for i in 0..<20_000 {
            var p = video
            p.sequenceNumber = UInt16(truncatingIfNeeded: i)
            try? writer.write(p.serialized().prefix(200).map { $0 }, atMicros: 1_700_000_000_000_000 + Int64(i) * 1_000)
        }
        try? writer.close()
    }
    Benchmark("MJR read (20k packets)", configuration: .init(scalingFactor: .one)) { benchmark in
        for _ in benchmark.scaledIterations {
            guard let reader = try? MJRReader(path: mjrPath) else { return }
            var count = 0
            while let packet = try? reader.next() {
                count += 1
                blackHole(packet)
            }
            blackHole(count)
        }
    }
}
