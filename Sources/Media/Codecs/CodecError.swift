/// A failure reported by a codec library (libopus, libvpx) or by a wrapper's own checks.
public struct CodecError: Error, Sendable, CustomStringConvertible {
    /// Which codec failed: `opus`, `vp8`, `vp9`.
    public var codec: String
    /// What failed, including the library's own error string when there is one.
    public var reason: String

    public init(codec: String, reason: String) {
        self.codec = codec
        self.reason = reason
    }

    public var description: String { "\(codec): \(reason)" }
}
