import Testing
@testable import RTP

@Suite struct UnwrapTests {
    @Test func sequenceAcrossWrapWithReordering() {
        var u = SequenceUnwrapper()
        let input: [UInt16] = [65533, 65535, 65534, 1, 0, 2, 65535, 3, 32770, 32771]
        let expected: [Int64] = [65533, 65535, 65534, 65537, 65536, 65538, 65535, 65539, 98306, 98307]
        #expect(input.map { u.unwrap($0) } == expected)
    }

    @Test func sequenceManyCycles() {
        var u = SequenceUnwrapper()
        var seq: UInt16 = 60000
        var last: Int64 = 0
        for k in 0..<300_000 {
            last = u.unwrap(seq)
            #expect(last == 60000 + Int64(k))
            if last != 60000 + Int64(k) { break }
            seq &+= 1
        }
        #expect(last == 60000 + 299_999)
    }

    @Test func sequenceBackwardsBeforeStart() {
        var u = SequenceUnwrapper()
        #expect(u.unwrap(1) == 1)
        #expect(u.unwrap(65535) == -1)
        #expect(u.unwrap(2) == 2)
    }

    @Test func timestampAcrossWrapWithReordering() {
        var u = TimestampUnwrapper()
        let input: [UInt32] = [0xFFFF_F000, 0xFFFF_FC00, 0x0000_0800, 0xFFFF_FE00, 0x0000_1000]
        let expected: [Int64] = [0xFFFF_F000, 0xFFFF_FC00, 0x1_0000_0800, 0xFFFF_FE00, 0x1_0000_1000]
        #expect(input.map { u.unwrap($0) } == expected)
        // a second wrap
        #expect(u.unwrap(0x8000_0000) == 0x1_8000_0000)
        #expect(u.unwrap(0xFFFF_FFFF) == 0x1_FFFF_FFFF)
        #expect(u.unwrap(5) == 0x2_0000_0005)
    }

    @Test func ntpConversion() {
        // 2024-01-01T00:00:00.5Z = 1704067200.5 s Unix
        let micros: Int64 = 1_704_067_200_500_000
        let ntp = NTPTime(unixMicros: micros)
        #expect(ntp.raw >> 32 == UInt64(1_704_067_200 + 2_208_988_800))
        #expect(ntp.raw & 0xFFFF_FFFF == 0x8000_0000)
        #expect(ntp.unixMicros == micros)
        #expect(NTPTime.unixMicros(fromNTP: NTPTime.ntp(fromUnixMicros: 123_456_789)) == 123_456_789)
        #expect(NTPTime(raw: 0x0001_0002_0003_0004).middle32 == 0x0002_0003)
        for m in stride(from: Int64(1_600_000_000_000_000), to: 1_600_000_001_000_000, by: 7919) {
            #expect(NTPTime(unixMicros: m).unixMicros == m)
        }
    }
}
