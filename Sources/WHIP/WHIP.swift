/// Module `WHIP`: the WHIP endpoint (RFC 9725) that publishers (browsers, OBS, GStreamer) push to.
///
/// - `WHIPRequestHandler` is the sans-IO core: routing, validation, bearer auth, CORS, ETags, and
///   the calls into a `WHIPBackend` (the recorder), all without sockets.
/// - `WHIPServer` serves it over HTTP/1.1 with the `HTTPServer` module (SwiftNIO).
/// - `WHIPFragment` reads trickle ICE / ICE restart bodies (RFC 8840 `application/trickle-ice-sdpfrag`).
