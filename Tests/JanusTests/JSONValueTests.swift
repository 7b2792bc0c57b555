import JSONText
import Testing
@testable import Janus

@Suite struct JSONValueTests {
    @Test func parsesAllKinds() throws {
        let value = try JSONValue.parse(" {\"a\":[1,-2.5e3,true,false,null],\"b\":{\"c\":\"d\"},\"e\":\"\"} ")
        #expect(value["a"] == .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null]))
        #expect(value["b"]?["c"]?.string == "d")
        #expect(value["e"]?.string == "")
        #expect(value["missing"] == nil && value["a"]?["x"] == nil)
    }

    @Test func keepsIntegersExact() throws {
        let value = try JSONValue.parse("[18446744073709551615, 9007199254740993, 18446744073709551616, 1e400, 0.5]")
        let numbers = try #require(value.array)
        #expect(numbers[0].uint64 == .max)
        #expect(numbers[1].uint64 == 9_007_199_254_740_993)
        #expect(numbers[2].uint64 == nil && numbers[2].int == nil)
        #expect(numbers[3].uint64 == nil && numbers[3].double == .infinity)
        #expect(numbers[4].int == nil && numbers[4].double == 0.5)
    }

    @Test func stringEscapes() throws {
        let value = try JSONValue.parse(#""a\"b\\c\/d\n\r\t\b\f\u00e9\ud83d\ude00\ud800x""#)
        #expect(value.string == "a\"b\\c/d\n\r\t\u{08}\u{0C}é😀\u{FFFD}x")
        let round = JSONValue.string("line\nquote\" ctl\u{01} é 😀 \u{2028}")
        #expect(try JSONValue.parse(round.text) == round)
        #expect(round.text == "\"line\\nquote\\\" ctl\\u0001 é 😀 \\u2028\"")
    }

    @Test func writesSortedCompactObjects() {
        let value = JSONValue.object(["janus": .string("create"), "b": .array([.int(1), .null]), "a": .bool(true)])
        #expect(value.text == "{\"a\":true,\"b\":[1,null],\"janus\":\"create\"}")
    }

    @Test func rejectsWhatIsNotJSON() {
        for text in ["", " ", "{", "}", "[1,]", "{\"a\":}", "{\"a\" 1}", "{a:1}", "01", "1.", "-", "1e", "+1",
                     "\"abc", "\"\u{01}\"", "\"\\x\"", "\"\\u12\"", "tru", "nul", "[1] 2", "{\"a\":1,}", "NaN",
                     "'a'", "[\"a\" \"b\"]"] {
            #expect(throws: JSONParseError.self, "\(text)") { try JSONValue.parse(text) }
        }
    }

    @Test func limitsNesting() throws {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
        let ok = String(repeating: "[", count: JSONValue.maxDepth) + String(repeating: "]", count: JSONValue.maxDepth)
        #expect(try JSONValue.parse(ok).array != nil)
    }

    @Test func requestsEncodeAsJanusExpects() throws {
        let request = JanusRequest(verb: .message, transaction: "fr-7", sessionID: 12, handleID: 34,
                                   body: .object(["request": .string("start")]),
                                   jsep: .object(["type": .string("answer"), "sdp": .string("v=0\r\n")]),
                                   apiSecret: "s", token: "t")
        let parsed = try JSONValue.parse(request.text)
        #expect(parsed == .object([
            "janus": .string("message"), "transaction": .string("fr-7"), "session_id": .int(12),
            "handle_id": .int(34), "body": .object(["request": .string("start")]),
            "jsep": .object(["type": .string("answer"), "sdp": .string("v=0\r\n")]),
            "apisecret": .string("s"), "token": .string("t"),
        ]))
        let create = JanusRequest(verb: .create, transaction: "fr-1")
        #expect(create.text == "{\"janus\":\"create\",\"transaction\":\"fr-1\"}")
        let claim = JanusRequest(verb: .claim, transaction: "fr-2", sessionID: 99)
        #expect(claim.text == "{\"janus\":\"claim\",\"session_id\":99,\"transaction\":\"fr-2\"}")
    }

    @Test func messagesDecodeLeniently() throws {
        let message = try JanusMessage.decode("{\"janus\":\"event\",\"session_id\":\"12\",\"sender\":34,\"transaction\":5,"
            + "\"unknown\":{\"x\":[1]},\"plugindata\":{\"plugin\":\"janus.plugin.videoroom\",\"data\":{\"videoroom\":\"x\"}},"
            + "\"jsep\":{\"type\":\"offer\",\"sdp\":\"v=0\",\"extra\":1}}").get()
        #expect(message.kind == "event" && message.sessionID == 12 && message.sender == 34 && message.transaction == "5")
        #expect(message.pluginData?["videoroom"] == .string("x"))
        #expect(message.jsep?.type == "offer" && message.jsep?.sdp == "v=0")
        let error = try JanusMessage.decode("{\"janus\":\"error\",\"transaction\":\"t\",\"error\":{\"code\":\"458\",\"reason\":\"No such session\"}}").get()
        #expect(error.error?.code == 458 && error.error?.reason == "No such session")
    }
}
