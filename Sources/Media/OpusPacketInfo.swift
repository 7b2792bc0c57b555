import COpus

/// Facts read from an Opus packet's TOC byte without decoding it (RFC 6716 §3.1).
public enum OpusPacketInfo {
    /// Samples per channel at 48 kHz that the packet decodes to; nil for a malformed packet.
    public static func sampleCount(_ packet: [UInt8]) -> Int? {
        guard !packet.isEmpty else { return nil }
        let n = packet.withUnsafeBufferPointer { opus_packet_get_nb_samples($0.baseAddress!, Int32($0.count), 48_000) }
        return n > 0 ? Int(n) : nil
    }

    /// Samples per channel at 48 kHz of one Opus frame of a packet with this TOC byte (2.5–60 ms).
    public static func frameSampleCount(toc: UInt8) -> Int {
        var byte = toc
        return Int(opus_packet_get_samples_per_frame(&byte, 48_000))
    }

    /// True when the TOC's stereo flag is set.
    public static func isStereo(_ packet: [UInt8]) -> Bool {
        guard let toc = packet.first else { return false }
        return toc & 0x04 != 0
    }
}
