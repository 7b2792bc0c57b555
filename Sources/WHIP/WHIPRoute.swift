/// Where a request path points, relative to the configured prefix.
enum WHIPRoute: Equatable, Sendable {
    /// `GET /health` (outside the prefix; checked first, so a root-mounted room cannot be named `health`).
    case health
    /// `{prefix}/{room}`: the WHIP endpoint URL of a room.
    case room(String)
    /// `{prefix}/{room}/{session}`: a WHIP session URL.
    case session(room: String, session: String)
    /// A room segment that is not a valid name (answered with 400).
    case invalidRoom
    /// Anything else (answered with 404).
    case notFound

    static let healthPath = "/health"

    /// Routes `path` (query and fragment ignored) under `prefix` (`""` or `/a[/b…]`, see
    /// `WHIPServerOptions.normalizedPrefix`).
    init(path: String, prefix: String) {
        let path = path.prefix { $0 != "?" && $0 != "#" }
        if path == Self.healthPath {
            self = .health
            return
        }
        guard path.hasPrefix(prefix + "/") else {
            self = .notFound
            return
        }
        let segments = path.dropFirst(prefix.count + 1).split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(segments.count), !segments.contains(where: \.isEmpty) else {
            self = .notFound
            return
        }
        guard Self.isValidName(segments[0]) else {
            self = .invalidRoom
            return
        }
        if segments.count == 1 {
            self = .room(String(segments[0]))
        } else if Self.isValidName(segments[1]) {
            self = .session(room: String(segments[0]), session: String(segments[1]))
        } else {
            self = .notFound // no session can have that id
        }
    }

    /// `[A-Za-z0-9._-]{1,64}`, except `.` and `..` (which clients normalise away in URLs).
    static func isValidName(_ name: some StringProtocol) -> Bool {
        let bytes = name.utf8
        guard (1...64).contains(bytes.count), name != ".", name != ".." else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }
}
