import SDP

/// What an offer must hold beyond its syntax before a peer (and a room's slot) is spent on it:
/// RFC 8839 §5.4 ICE credentials, real ports, one m-line per mid, and (for a new connection) media
/// that is sent at all. Lenient offers were accepted and took a slot they could never use.
enum OfferCheck {
    /// The first problem of `offer`, in words; nil when it is fine. `mustSend`: a new connection,
    /// whose offer has to send something (a renegotiation may leave only inactive m-lines).
    static func problem(_ offer: SessionDescription, credentials: (ufrag: String, pwd: String)?, mustSend: Bool) -> String? {
        if let (ufrag, pwd) = credentials {
            if !isICEText(ufrag, lengths: 4...256) { return "a=ice-ufrag must be 4 to 256 ice-chars (RFC 8839), not \(describe(ufrag))" }
            if !isICEText(pwd, lengths: 22...256) { return "a=ice-pwd must be 22 to 256 ice-chars (RFC 8839), not \(describe(pwd))" }
        }
        var mids = Set<String>()
        for (index, section) in offer.media.enumerated() {
            guard (0...65_535).contains(section.port) else { return "m-line \(index + 1) has port \(section.port), beyond 65535" }
            if let mid = section.mid, !mids.insert(mid).inserted { return "a=mid:\(mid) names two m-lines" }
        }
        if mustSend, !offer.media.contains(where: { $0.port != 0 && ["sendonly", "sendrecv"].contains($0.direction) }) {
            return "the offer sends no media (every m-line is recvonly, inactive or rejected): there is nothing to record"
        }
        return nil
    }

    /// ice-char = ALPHA / DIGIT / "+" / "/".
    private static func isICEText(_ text: String, lengths: ClosedRange<Int>) -> Bool {
        lengths.contains(text.utf8.count) && text.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2B || c == 0x2F
        }
    }

    private static func describe(_ text: String) -> String {
        text.utf8.count > 40 ? "\(text.utf8.count) bytes" : "\"\(text)\""
    }
}
