import Capture
/// Participant names derived from inputs, and making any name safe as a file name.

/// The parts of a Janus videoroom recording's file name:
/// `videoroom-<room>-user-<id>-<µs>-<audio|video|data>[-<mindex>].mjr`.
public struct JanusRecordingName: Sendable, Equatable {
    public var room: String
    public var user: String
    public var startMicros: Int64
    public var kind: String
    public var mindex: Int?

    /// Parses the file name part of `path`; nil when it is not a Janus videoroom name.
    public init?(path: String) {
        var name = Substring(path.split(separator: "/").last ?? "")
        if name.hasSuffix(".mjr") { name = name.dropLast(4) }
        guard name.hasPrefix("videoroom-") else { return nil }
        let kinds: Set<String> = ["audio", "video", "data"]
        var parts = name.dropFirst("videoroom-".count).split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        var mindex: Int?
        if parts.count >= 2, let m = Int(parts[parts.count - 1]), kinds.contains(parts[parts.count - 2]) {
            mindex = m
            parts.removeLast()
        }
        guard let kind = parts.popLast(), kinds.contains(kind),
              let startText = parts.popLast(), let start = Int64(startText), CaptureTime.range.contains(start),
              let userIndex = parts.lastIndex(of: "user") else { return nil }
        // Room and user ids may themselves contain dashes (string ids).
        room = parts[..<userIndex].joined(separator: "-")
        user = parts[(userIndex + 1)...].joined(separator: "-")
        guard !room.isEmpty, !user.isEmpty else { return nil }
        startMicros = start
        self.kind = kind
        self.mindex = mindex
    }
}

/// Makes `name` safe as a file name component: letters, digits, `-`, `_`, `.` kept; anything
/// else becomes `_`; no leading dot; at most 64 characters; never empty.
public func safeFileName(_ name: String, maxLength: Int = 64) -> String {
    var out = ""
    for scalar in name.unicodeScalars {
        let ok = (scalar.value >= 48 && scalar.value <= 57) || (scalar.value >= 65 && scalar.value <= 90)
            || (scalar.value >= 97 && scalar.value <= 122) || scalar == "-" || scalar == "_" || scalar == "."
        out.unicodeScalars.append(ok ? scalar : "_")
        if out.count >= maxLength { break }
    }
    while out.hasPrefix(".") { out = "_" + out.dropFirst() }
    return out.isEmpty ? "_" : out
}

/// Naming conventions the recorder and the composite share.
public enum ParticipantNames {
    /// A participant whose name ends with this is a screen share (`record --screen-room` names them
    /// `<display>-screen`); the speaker layout shows it large while it is present.
    public static let screenShareSuffix = "-screen"
}
