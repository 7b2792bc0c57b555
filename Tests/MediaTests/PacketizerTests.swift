import SeededRandom
import Testing
import RTP
@testable import Media

@Suite struct PacketizerTests {
    @Test func vp8PayloadsRespectSizeAndCarryDescriptor() throws {
        var rng = SplitMix64(seed: 1)
        var pk = VP8Packetizer(maxPayloadSize: 100, initialPictureID: 0x7FFF)
        let frame = randomBytes(1000, &rng)
        let a = pk.payloads(for: frame, isKeyframe: false)
        #expect(a.count == 11)  // 1000 / 96 -> 11 balanced chunks
        #expect(a.allSatisfy { $0.count <= 100 })
        let d0 = try #require(VP8Descriptor(parsing: a[0][...]))
        #expect(d0.isFrameStart && d0.pictureID == 0x7FFF && d0.longPictureID && d0.size == 4)
        let d1 = try #require(VP8Descriptor(parsing: a[1][...]))
        #expect(!d1.startOfPartition && d1.partitionIndex == 0 && d1.pictureID == 0x7FFF)
        #expect(a.flatMap { $0.dropFirst(4) } == frame)
        // PictureID wraps at 15 bits
        let b = pk.payloads(for: [1, 2, 3], isKeyframe: false)
        #expect(b.count == 1 && VP8Descriptor(parsing: b[0][...])?.pictureID == 0)
    }

    @Test(arguments: [false, true])
    func vp9PayloadsCarryBEAndSS(flexible: Bool) throws {
        var rng = SplitMix64(seed: 2)
        var pk = VP9Packetizer(maxPayloadSize: 200, initialPictureID: 3, flexibleMode: flexible)
        let key = pk.payloads(for: randomBytes(1000, &rng), isKeyframe: true, width: 1920, height: 1080)
        #expect(key.allSatisfy { $0.count <= 200 })
        let descs = try key.map { try #require(VP9Descriptor(parsing: $0[...])) }
        #expect(descs.map(\.beginsFrame) == [true] + Array(repeating: false, count: key.count - 1))
        #expect(descs.map(\.endsFrame) == Array(repeating: false, count: key.count - 1) + [true])
        #expect(descs.allSatisfy { !$0.interPicturePredicted && $0.pictureID == 3 && $0.flexibleMode == flexible })
        #expect(descs[0].scalability?.resolutions == [VP9Resolution(width: 1920, height: 1080)])
        #expect(descs.dropFirst().allSatisfy { $0.scalability == nil })
        let delta = pk.payloads(for: [0x86, 1, 2], isKeyframe: false, width: 1920, height: 1080)
        let d = try #require(VP9Descriptor(parsing: delta[0][...]))
        #expect(d.interPicturePredicted && d.beginsFrame && d.endsFrame && d.pictureID == 4 && d.scalability == nil)
        #expect(d.referenceDiffs == (flexible ? [1] : []))
        #expect(d.tl0PicIdx == (flexible ? nil : 1))
        #expect(Array(delta[0].dropFirst(d.size)) == [0x86, 1, 2])
    }

    @Test func opusIsOneToOne() {
        #expect(OpusPacketizer().payloads(for: [0xF8, 1, 2]) == [[0xF8, 1, 2]])
    }
}
