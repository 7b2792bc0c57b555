/// CORS (Fetch standard) so browser publishers on other origins can use the endpoint.
extension WHIPRequestHandler {
    /// The answer to an `OPTIONS` request (CORS preflight, or a client asking what the URL accepts).
    func preflight(allow: String, patch: Bool) -> WHIPResponse {
        var headers: WHIPHeaders = ["Allow": allow, "Accept-Post": Self.sdpType]
        if patch { headers.add("Accept-Patch", Self.fragmentType) }
        if options.allowedOrigin != nil {
            headers.add("Access-Control-Allow-Methods", "POST, PATCH, DELETE, OPTIONS")
            headers.add("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
            headers.add("Access-Control-Max-Age", "86400")
        }
        return WHIPResponse(status: 204, headers: headers)
    }

    /// `response` with the headers every response carries when CORS is on.
    func withCORS(_ response: WHIPResponse) -> WHIPResponse {
        guard let origin = options.allowedOrigin else { return response }
        var response = response
        response.headers.replace("Access-Control-Allow-Origin", origin)
        response.headers.replace("Access-Control-Expose-Headers", "Location, ETag, Link")
        if origin != "*" { response.headers.replace("Vary", "Origin") }
        return response
    }
}
