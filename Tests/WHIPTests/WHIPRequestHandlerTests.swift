import Testing
@testable import WHIP

@Suite struct WHIPRequestHandlerTests {
    static let sdp: WHIPHeaders = ["Content-Type": "application/sdp"]
    static let frag: WHIPHeaders = ["Content-Type": "application/trickle-ice-sdpfrag"]

    func post(_ path: String = "/whip/room1", headers: WHIPHeaders = sdp, body: String = FakeBackend.offer)
        -> WHIPRequest {
        WHIPRequest(method: "POST", path: path, headers: headers, text: body)
    }

    func patch(_ headers: WHIPHeaders = frag, body: String = FakeBackend.trickle) -> WHIPRequest {
        WHIPRequest(method: "PATCH", path: "/whip/room1/sess1", headers: headers, text: body)
    }

    // MARK: Routes

    @Test func health() async {
        let handler = WHIPRequestHandler(options: .init(), backend: FakeBackend())
        let ok = await handler.handle(WHIPRequest(method: "GET", path: "/health"))
        #expect(ok.status == 200 && ok.text == "ok")
        #expect(ok.headers["Content-Type"] == "text/plain; charset=utf-8")
        let post = await handler.handle(WHIPRequest(method: "POST", path: "/health"))
        #expect(post.status == 405 && post.headers["Allow"] == "GET")
    }

    @Test func createSession() async {
        let links = [WHIPServerOptions.iceServerLink("stun:stun.example.net:3478"),
                     WHIPServerOptions.iceServerLink("turn:turn.example.net?transport=udp", username: "u",
                                                     credential: "p\"w")]
        let backend = FakeBackend()
        let handler = WHIPRequestHandler(options: .init(iceServerLinks: links), backend: backend)
        let response = await handler.handle(post(), remoteAddress: "192.0.2.5")
        #expect(response.status == 201)
        #expect(response.headers["Content-Type"] == "application/sdp")
        #expect(response.headers["location"] == "/whip/room1/sess1")
        #expect(response.headers["ETag"] == "\"tag1\"")
        #expect(response.headers.values("Link") == [
            "<stun:stun.example.net:3478>; rel=\"ice-server\"",
            "<turn:turn.example.net?transport=udp>; rel=\"ice-server\"; username=\"u\"; credential=\"p\\\"w\"; "
                + "credential-type=\"password\"",
        ])
        #expect(response.text == FakeBackend.answer)
        #expect(await backend.log.created == [.init(room: "room1", offer: FakeBackend.offer, remoteAddress: "192.0.2.5")])
    }

    @Test func decideIsSynchronousAndPure() {
        let handler = WHIPRequestHandler(options: .init(), backend: FakeBackend())
        guard case .createSession(let room, let offer) = handler.decide(post("/whip/r.1_-x?token=ignored")) else {
            Issue.record("expected createSession")
            return
        }
        #expect(room == "r.1_-x" && offer == FakeBackend.offer)
        guard case .updateSession("room1", "sess1", let fragment, let ifMatch) =
            handler.decide(patch(["Content-Type": "application/trickle-ice-sdpfrag", "If-Match": "\"t\""])) else {
            Issue.record("expected updateSession")
            return
        }
        #expect(fragment.ufrag == "EsAw" && ifMatch == "\"t\"")
        guard case .deleteSession("room1", "sess1") =
            handler.decide(WHIPRequest(method: "DELETE", path: "/whip/room1/sess1")) else {
            Issue.record("expected deleteSession")
            return
        }
    }

    @Test func contentTypeParametersAndCaseAreAccepted() async {
        let handler = WHIPRequestHandler(options: .init(), backend: FakeBackend())
        let response = await handler.handle(post(headers: ["content-type": "Application/SDP ; charset=utf-8"]))
        #expect(response.status == 201)
    }

    @Test(arguments: ["/", "/other", "/whip", "/whip/", "/whip/room1/", "/whip/a/b/c", "/whip/room1/bad$id",
                      "/whipx/room1", "/health/x"])
    func unknownPathsAre404(path: String) async {
        let handler = WHIPRequestHandler(options: .init(), backend: FakeBackend())
        let response = await handler.handle(post(path))
        #expect(response.status == 404)
        #expect(response.headers["Access-Control-Allow-Origin"] == "*")
    }

    @Test(arguments: ["/whip/bad%20room", "/whip/" + String(repeating: "x", count: 65), "/whip/..", "/whip/.",
                      "/whip/r%C3%A9", "/whip/a:b/sess1"])
    func invalidRoomNamesAre400(path: String) async {
        let backend = FakeBackend()
        let handler = WHIPRequestHandler(options: .init(), backend: backend)
        #expect(await handler.handle(post(path)).status == 400)
        #expect(await backend.log.count == 0)
    }

    @Test func roomNameRule() {
        #expect(WHIPRoute.isValidName(String(repeating: "A", count: 64)))
        #expect(WHIPRoute.isValidName("a.b_c-D9"))
        #expect(WHIPRoute.isValidName("..."))
        #expect(!WHIPRoute.isValidName(""))
        #expect(!WHIPRoute.isValidName("é"))
    }

    @Test func wrongMethodsAre405WithAllow() async {
        let handler = WHIPRequestHandler(options: .init(), backend: FakeBackend())
        let get = await handler.handle(WHIPRequest(method: "GET", path: "/whip/room1"))
        #expect(get.status == 405 && get.headers["Allow"] == "POST, OPTIONS")
        let post = await handler.handle(post("/whip/room1/sess1"))
        #expect(post.status == 405 && post.headers["Allow"] == "PATCH, DELETE, OPTIONS")
        #expect(get.headers["Access-Control-Allow-Origin"] == "*")
    }

    @Test func wrongContentTypesAre415() async {
        let backend = FakeBackend()
        let handler = WHIPRequestHandler(options: .init(), backend: backend)
        #expect(await handler.handle(post(headers: ["Content-Type": "text/plain"])).status == 415)
        #expect(await handler.handle(post(headers: [:])).status == 415)
        let patch415 = await handler.handle(patch(Self.sdp))
        #expect(patch415.status == 415 && patch415.headers["Accept-Patch"] == "application/trickle-ice-sdpfrag")
        #expect(await handler.handle(post(headers: [:])).headers["Accept-Post"] == "application/sdp")
        #expect(await backend.log.count == 0)
    }

    @Test func bodiesThatAreNotOffersAre400() async {
        let handler = WHIPRequestHandler(options: .init(), backend: FakeBackend())
        #expect(await handler.handle(post(body: "hello")).status == 400)
        #expect(await handler.handle(post(body: "")).status == 400)
        let notUTF8 = WHIPRequest(method: "POST", path: "/whip/room1", headers: Self.sdp, body: [0x76, 0x3D, 0xFF])
        #expect(await handler.handle(notUTF8).status == 400)
    }

    @Test func sizeLimit() async {
        let handler = WHIPRequestHandler(options: .init(maxSDPBytes: 100), backend: FakeBackend())
        let exact = "v=0\n" + String(repeating: "a", count: 96)
        #expect(await handler.handle(post(body: exact)).status == 201)
        let over = await handler.handle(post(body: exact + "a"))
        #expect(over.status == 413)
        #expect(await handler.handle(patch(body: String(repeating: "\n", count: 101))).status == 413)
    }

    @Test func prefixIsConfigurable() async {
        let nested = WHIPRequestHandler(options: .init(pathPrefix: "ingest/whip/"), backend: FakeBackend())
        #expect(await nested.handle(post("/ingest/whip/room1")).headers["Location"] == "/ingest/whip/room1/sess1")
        #expect(await nested.handle(post("/whip/room1")).status == 404)
        let root = WHIPRequestHandler(options: .init(pathPrefix: "/"), backend: FakeBackend())
        #expect(await root.handle(post("/room1")).headers["Location"] == "/room1/sess1")
        #expect(await root.handle(WHIPRequest(method: "GET", path: "/health")).status == 200)
    }

    // MARK: CORS

    @Test func preflight() async {
        let handler = WHIPRequestHandler(options: .init(bearerToken: "secret"), backend: FakeBackend())
        for path in ["/whip/room1", "/whip/room1/sess1"] {
            let response = await handler.handle(WHIPRequest(method: "OPTIONS", path: path,
                                                            headers: ["Origin": "https://app.example",
                                                                      "Access-Control-Request-Method": "POST"]))
            #expect(response.status == 204)
            #expect(response.body.isEmpty)
            #expect(response.headers["Access-Control-Allow-Origin"] == "*")
            #expect(response.headers["Access-Control-Allow-Methods"] == "POST, PATCH, DELETE, OPTIONS")
            #expect(response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type, If-Match")
            #expect(response.headers["Access-Control-Expose-Headers"] == "Location, ETag, Link")
            #expect(response.headers["Accept-Post"] == "application/sdp")
        }
    }

    @Test func corsOnEveryResponse() async {
        let handler = WHIPRequestHandler(options: .init(bearerToken: "secret", allowedOrigin: "https://app.example"),
                                         backend: FakeBackend(createResult: .failure(WHIPError.conflict("busy"))))
        let responses = [
            await handler.handle(WHIPRequest(method: "GET", path: "/health")),
            await handler.handle(post()),
            await handler.handle(post(headers: ["Content-Type": "application/sdp", "Authorization": "Bearer secret"])),
            await handler.handle(WHIPRequest(method: "GET", path: "/nowhere")),
        ]
        #expect(responses.map(\.status) == [200, 401, 409, 404])
        for response in responses {
            #expect(response.headers["Access-Control-Allow-Origin"] == "https://app.example")
            #expect(response.headers["Access-Control-Expose-Headers"] == "Location, ETag, Link")
            #expect(response.headers["Vary"] == "Origin")
        }
    }

    @Test func corsCanBeOff() async {
        let handler = WHIPRequestHandler(options: .init(allowedOrigin: nil), backend: FakeBackend())
        let created = await handler.handle(post())
        let preflight = await handler.handle(WHIPRequest(method: "OPTIONS", path: "/whip/room1"))
        #expect(created.status == 201 && preflight.status == 204)
        #expect(!(created.headers.fields + preflight.headers.fields).contains { $0.name.hasPrefix("Access-Control") })
    }

    // MARK: Auth

    @Test func bearerToken() async {
        let backend = FakeBackend()
        let handler = WHIPRequestHandler(options: .init(bearerToken: "s3cret"), backend: backend)
        let missing = await handler.handle(post())
        #expect(missing.status == 401 && missing.headers["WWW-Authenticate"] == "Bearer")
        for wrong in ["Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "Bearer", "s3cret", "Bearer S3CRET"] {
            let response = await handler.handle(post(headers: ["Content-Type": "application/sdp", "Authorization": wrong]))
            #expect(response.status == 401, "\(wrong)")
            #expect(response.headers["WWW-Authenticate"]?.hasPrefix("Bearer") == true)
        }
        #expect(await handler.handle(WHIPRequest(method: "DELETE", path: "/whip/room1/sess1")).status == 401)
        #expect(await handler.handle(patch()).status == 401)
        #expect(await backend.log.count == 0)
        let right = await handler.handle(post(headers: ["Content-Type": "application/sdp", "Authorization": "bearer s3cret"]))
        #expect(right.status == 201)
        #expect(await handler.handle(WHIPRequest(method: "GET", path: "/health")).status == 200)
    }

    @Test func constantTimeComparison() {
        let token = Array("abcdef".utf8)
        #expect(BearerAuth.constantTimeEqual(token, token))
        #expect(!BearerAuth.constantTimeEqual(Array("abcdeF".utf8), token))
        #expect(!BearerAuth.constantTimeEqual(Array("abc".utf8), token))
        #expect(!BearerAuth.constantTimeEqual(Array("abcdefg".utf8), token))
        #expect(!BearerAuth.constantTimeEqual([], token))
        #expect(BearerAuth.constantTimeEqual([], []))
    }

    // MARK: PATCH, If-Match, DELETE

    @Test func trickleIs204() async {
        let backend = FakeBackend()
        let handler = WHIPRequestHandler(options: .init(), backend: backend)
        _ = await handler.handle(post())
        let response = await handler.handle(patch(["Content-Type": "application/trickle-ice-sdpfrag",
                                                   "If-Match": "\"tag1\""]))
        #expect(response.status == 204 && response.body.isEmpty)
        let updated = await backend.log.updated
        #expect(updated.count == 1)
        #expect(updated.first?.room == "room1" && updated.first?.session == "sess1")
        #expect(updated.first?.fragment.candidates.first?.mid == "0")
    }

    @Test func ifMatch() async {
        let backend = FakeBackend()
        let handler = WHIPRequestHandler(options: .init(), backend: backend)
        _ = await handler.handle(post())
        func patch(ifMatch: String?) async -> Int {
            var headers = Self.frag
            if let ifMatch { headers.add("If-Match", ifMatch) }
            return await handler.handle(self.patch(headers)).status
        }
        #expect(await patch(ifMatch: "\"other\"") == 412)
        #expect(await patch(ifMatch: "W/\"tag1\"") == 412)
        #expect(await backend.log.updated.isEmpty)
        #expect(await patch(ifMatch: "\"tag1\"") == 204)
        #expect(await patch(ifMatch: "\"x\", \"tag1\"") == 204)
        #expect(await patch(ifMatch: "*") == 204)
        #expect(await patch(ifMatch: nil) == 204)
        #expect(await backend.log.updated.count == 4)
    }

    @Test func unquotedETagsAreQuoted() async {
        let backend = FakeBackend(createResult: .success(.init(session: "s", answer: "v=0\r\n", etag: "abc")))
        let handler = WHIPRequestHandler(options: .init(), backend: backend)
        #expect(await handler.handle(post()).headers["ETag"] == "\"abc\"")
    }

    @Test func iceRestartIs200WithFragmentAndNewETag() async {
        let answer = "a=ice-ufrag:NEWU\r\na=ice-pwd:0123456789012345678901\r\n"
        let backend = FakeBackend(updateResult: .success(answer))
        let handler = WHIPRequestHandler(options: .init(), backend: backend)
        _ = await handler.handle(post())
        let restart = "a=ice-ufrag:cli2\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
        let response = await handler.handle(patch(["Content-Type": "application/trickle-ice-sdpfrag", "If-Match": "*"],
                                                  body: restart))
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"] == "application/trickle-ice-sdpfrag")
        #expect(response.headers["ETag"] == "\"NEWU\"")
        #expect(response.text == answer)
        #expect(await backend.log.updated.first?.fragment.isICERestart(currentUfrag: "EsAw") == true)
        // The old tag no longer matches.
        #expect(await handler.handle(patch(["Content-Type": "application/trickle-ice-sdpfrag",
                                            "If-Match": "\"tag1\""])).status == 412)
    }

    @Test func malformedFragmentIs400NamingTheLine() async {
        let backend = FakeBackend()
        let handler = WHIPRequestHandler(options: .init(), backend: backend)
        let response = await handler.handle(patch(body: "a=ice-ufrag:abcd\r\nnonsense\r\n"))
        #expect(response.status == 400)
        #expect(response.text.contains("line 2"))
        #expect(await backend.log.count == 0)
    }

    @Test func deleteIs200AndForgetsTheETag() async {
        let backend = FakeBackend()
        let handler = WHIPRequestHandler(options: .init(), backend: backend)
        _ = await handler.handle(post())
        let response = await handler.handle(WHIPRequest(method: "DELETE", path: "/whip/room1/sess1"))
        #expect(response.status == 200 && response.body.isEmpty)
        #expect(await backend.log.deleted == ["room1/sess1"])
        #expect(await handler.tags.tag(room: "room1", session: "sess1") == nil)
        // The backend now decides about the session (here it still answers 204).
        #expect(await handler.handle(patch(["Content-Type": "application/trickle-ice-sdpfrag",
                                            "If-Match": "\"stale\""])).status == 204)
    }

    @Test func sessionEndedForgetsTheETag() async {
        let handler = WHIPRequestHandler(options: .init(), backend: FakeBackend())
        _ = await handler.handle(post())
        #expect(await handler.tags.tag(room: "room1", session: "sess1") == "\"tag1\"")
        await handler.sessionEnded(room: "room1", session: "sess1")
        #expect(await handler.tags.tag(room: "room1", session: "sess1") == nil)
    }

    // MARK: Backend errors

    @Test(arguments: [400, 403, 404, 409, 422, 429, 503])
    func backendErrorsKeepTheirStatus(status: Int) async {
        let error = WHIPError(status: status, message: "nope \(status)")
        let handler = WHIPRequestHandler(options: .init(), backend: FakeBackend(createResult: .failure(error),
                                                                                updateResult: .failure(error),
                                                                                deleteError: error))
        for request in [post(), patch(), WHIPRequest(method: "DELETE", path: "/whip/room1/sess1")] {
            let response = await handler.handle(request)
            #expect(response.status == status)
            #expect(response.text == "nope \(status)")
            #expect(response.headers["Content-Type"] == "text/plain; charset=utf-8")
        }
    }

    @Test func retryAfterAndOddErrors() async {
        let busy = WHIPRequestHandler(options: .init(),
                                      backend: FakeBackend(createResult: .failure(WHIPError.unavailable("full", retryAfter: 30))))
        let response = await busy.handle(post())
        #expect(response.status == 503 && response.headers["Retry-After"] == "30")
        let other = WHIPRequestHandler(options: .init(), backend: FakeBackend(createResult: .failure(FakeBackend.Failure())))
        let internalError = await other.handle(post())
        #expect(internalError.status == 500 && internalError.text == "internal error")
        let odd = WHIPRequestHandler(options: .init(),
                                     backend: FakeBackend(createResult: .failure(WHIPError(status: 200, message: "?"))))
        #expect(await odd.handle(post()).status == 500)
        let badID = WHIPRequestHandler(options: .init(),
                                       backend: FakeBackend(createResult: .success(.init(session: "a/b", answer: "v=0"))))
        #expect(await badID.handle(post()).status == 500)
    }

    @Test func headersAreCaseInsensitive() {
        var headers: WHIPHeaders = ["Link": "a", "link": "b", "X": "1"]
        #expect(headers["LINK"] == "a" && headers.values("link") == ["a", "b"])
        headers.replace("LINK", "c")
        #expect(headers.values("Link") == ["c"] && headers["x"] == "1")
        headers.remove("x")
        #expect(headers["X"] == nil)
        #expect(headers == ["link": "c"])
    }
}
