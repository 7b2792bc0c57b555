import Testing
@testable import Media

@Suite("VPX codec")
struct CodecVPXTests {
    // A saturated red background with a green square moving right; far from the encoder's
    // default grey, so a broken plane copy or swapped U/V shows up.
    static let background = (y: UInt8(81), u: UInt8(90), v: UInt8(240))
    static let square = (y: UInt8(145), u: UInt8(54), v: UInt8(34))
    static let side = 64

    static func squareRect(frame i: Int) -> PixelRect {
        PixelRect(x: 16 + 8 * i, y: 80, width: side, height: side)
    }

    static func picture(_ i: Int, width: Int = 320, height: Int = 240) -> I420Frame {
        var f = I420Frame(width: width, height: height, y: background.y, u: background.u, v: background.v)
        f.fill(rect: squareRect(frame: i), y: square.y, u: square.u, v: square.v)
        return f
    }

    static func expectColor(_ frame: I420Frame, _ rect: PixelRect, _ c: (y: UInt8, u: UInt8, v: UInt8),
                            tolerance: Double = 6, _ what: String) {
        let avg = frame.averageColor(in: rect)
        #expect(abs(avg.y - Double(c.y)) < tolerance, "\(what) Y \(avg.y) vs \(c.y)")
        #expect(abs(avg.u - Double(c.u)) < tolerance, "\(what) U \(avg.u) vs \(c.u)")
        #expect(abs(avg.v - Double(c.v)) < tolerance, "\(what) V \(avg.v) vs \(c.v)")
    }

    @Test(arguments: [Codec.vp8, .vp9])
    func movingSquareRoundTrip(codec: Codec) throws {
        let settings = VPXEncoder.Settings(codec: codec, width: 320, height: 240, fps: 30, bitrateKbps: 800,
                                           keyframeInterval: 60, deadline: .realtime, cpuUsed: 8, threads: 2)
        let enc = try VPXEncoder(settings)
        let dec = try VPXDecoder(codec: codec)
        var packets: [EncodedPacket] = []
        for i in 0..<30 {
            packets += try enc.encode(Self.picture(i), pts: Int64(i))
        }
        packets += try enc.flush()
        #expect(packets.count == 30)
        #expect(packets.first?.isKeyframe == true)
        #expect(packets.dropFirst().allSatisfy { !$0.isKeyframe })
        #expect(packets.map(\.pts) == (0..<30).map(Int64.init))

        var decoded: [I420Frame] = []
        for p in packets { decoded += try dec.decode(p.data) }
        #expect(decoded.count == 30)
        for (i, frame) in decoded.enumerated() {
            #expect(frame.width == 320 && frame.height == 240)
            guard i >= 2 else { continue }  // let rate control settle
            // Inside the square (2 px margin from its edges) and a background corner.
            let r = Self.squareRect(frame: i)
            Self.expectColor(frame, PixelRect(x: r.x + 4, y: r.y + 4, width: r.width - 8, height: r.height - 8), Self.square, "frame \(i) square")
            Self.expectColor(frame, PixelRect(x: 8, y: 8, width: 64, height: 48), Self.background, "frame \(i) background")
        }
        // The square moved: where it was in frame 2 is background by frame 29.
        let old = Self.squareRect(frame: 2)
        Self.expectColor(decoded[29], PixelRect(x: old.x + 4, y: old.y + 4, width: 16, height: old.height - 8), Self.background, "vacated area")
    }

    @Test(arguments: [Codec.vp8, .vp9])
    func forcedKeyframeAndReusedOutputFrame(codec: Codec) throws {
        let enc = try VPXEncoder(.init(codec: codec, width: 176, height: 144, fps: 15, bitrateKbps: 300))
        let dec = try VPXDecoder(codec: codec, threads: 1)
        var out = I420Frame(width: 0, height: 0)
        for i in 0..<10 {
            let packets = try enc.encode(Self.picture(i, width: 176, height: 144), pts: Int64(i), forceKeyframe: i == 5)
            #expect(packets.count == 1)
            #expect(packets.first?.isKeyframe == (i == 0 || i == 5))
            for p in packets { #expect(try dec.decode(p.data, into: &out)) }
            #expect(out.width == 176 && out.height == 144)
        }
        Self.expectColor(out, PixelRect(x: 100, y: 8, width: 60, height: 40), Self.background, tolerance: 8, "background")
    }

    @Test(arguments: [Codec.vp8, .vp9])
    func midStreamSizeChange(codec: Codec) throws {
        let dec = try VPXDecoder(codec: codec)
        var sizes: [String] = []
        let first = try VPXEncoder(.init(codec: codec, width: 320, height: 240))
        for i in 0..<5 {
            for p in try first.encode(Self.picture(i), pts: Int64(i)) {
                sizes += try dec.decode(p.data).map { "\($0.width)x\($0.height)" }
            }
        }
        // New size → new encoder; its first packet is a keyframe the same decoder follows.
        let second = try VPXEncoder(.init(codec: codec, width: 160, height: 120))
        var last = I420Frame(width: 0, height: 0)
        for i in 5..<10 {
            let packets = try second.encode(Self.picture(i - 5, width: 160, height: 120), pts: Int64(i))
            if i == 5 { #expect(packets.first?.isKeyframe == true) }
            for p in packets {
                for f in try dec.decode(p.data) {
                    sizes.append("\(f.width)x\(f.height)")
                    last = f
                }
            }
        }
        #expect(sizes == Array(repeating: "320x240", count: 5) + Array(repeating: "160x120", count: 5))
        Self.expectColor(last, PixelRect(x: 100, y: 8, width: 50, height: 40), Self.background, tolerance: 8, "small background")
        // The old encoder refuses pictures of another size instead of corrupting memory.
        #expect(throws: CodecError.self) { try first.encode(Self.picture(0, width: 160, height: 120), pts: 10) }
    }

    @Test func decoderRejectsGarbage() throws {
        let dec = try VPXDecoder(codec: .vp8)
        do {
            _ = try dec.decode([0x00, 0x01, 0x02, 0x03])
            Issue.record("garbage decoded")
        } catch {
            #expect(error.codec == "vp8")
            #expect(error.reason.contains("vpx_codec_decode"))
        }
        #expect(throws: CodecError.self) { try VPXDecoder(codec: .opus) }
        #expect(throws: CodecError.self) { try VPXEncoder(.init(codec: .h264, width: 64, height: 64)) }
        #expect(throws: CodecError.self) { try VPXEncoder(.init(codec: .vp8, width: 0, height: 64)) }
        // Rejected by libvpx itself (VP8 sizes are 14-bit): the error carries libvpx's text, and
        // the half-built encoder is freed exactly once.
        do {
            _ = try VPXEncoder(.init(codec: .vp8, width: 16_384, height: 64))
            Issue.record("libvpx accepted a 16384-wide VP8 picture")
        } catch {
            #expect(error.reason.contains("vpx_codec_enc_init"), "\(error)")
        }
    }

    @Test func fillAndAverageColor() {
        var f = I420Frame(width: 10, height: 6, y: 0, u: 0, v: 0)
        f.fill(rect: PixelRect(x: 2, y: 2, width: 4, height: 2), y: 200, u: 100, v: 50)
        let inside = f.averageColor(in: PixelRect(x: 2, y: 2, width: 4, height: 2))
        #expect(inside.y == 200 && inside.u == 100 && inside.v == 50)
        #expect(f.averageColor(in: PixelRect(x: 0, y: 0, width: 10, height: 2)).y == 0)
        #expect(f.averageColor(in: PixelRect(x: 0, y: 0, width: 10, height: 6)).y == 200 * 8 / 60.0)
        // Clipped to the picture, nothing outside.
        f.fill(rect: PixelRect(x: 8, y: 4, width: 100, height: 100), y: 1, u: 1, v: 1)
        #expect(f.y.count == 60 && f.y[59] == 1)
        #expect(f.averageColor(in: PixelRect(x: 50, y: 50, width: 2, height: 2)) == (0, 0, 0))
    }
}
