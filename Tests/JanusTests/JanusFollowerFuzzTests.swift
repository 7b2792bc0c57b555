import SeededRandom
import JSONText
import Testing
@testable import Janus

/// 2,000 mutated Janus messages against a following follower: no crash, sane requests, at most
/// one subscription request in flight.
@Suite struct JanusFollowerFuzzTests {
    typealias T = JanusTranscript

    /// Real-shaped messages a following follower may get (their transactions mostly unknown).
    static func corpus(_ t: T) -> [String] {
        let start = t.last(.message, "start")?.transaction ?? "fr-1"
        return [
            T.event(nil, sender: T.watcher, T.roomEvent("\"publishers\":[\(T.publisher("\(T.carol)", "carol"))]")),
            T.event(nil, sender: T.watcher, T.roomEvent("\"unpublished\":\(T.alice)")),
            T.event(nil, sender: T.watcher, T.roomEvent("\"leaving\":\(T.bob)")),
            T.event(nil, sender: T.watcher, T.roomEvent("\"kicked\":\(T.carol)")),
            T.event(nil, sender: T.watcher, "{\"videoroom\":\"destroyed\",\"room\":1234}"),
            T.event(nil, sender: T.subscriber, T.streams("updated", [
                T.stream(mid: 0, type: "audio", feed: "\(T.bob)", display: "bob"), T.stream(mid: 2, type: "audio", feed: nil),
            ]), offer: "v=0 fuzz"),
            T.event(nil, sender: T.subscriber, "{\"videoroom\":\"updating\",\"room\":1234}"),
            T.event(start, sender: T.subscriber, T.roomEvent("\"started\":\"ok\"")),
            T.event("fr-9", sender: T.subscriber, "{\"videoroom\":\"event\",\"error_code\":428,\"error\":\"No such feed\"}"),
            T.ack(start),
            T.success("fr-3", id: 5),
            T.error("fr-4", code: 458, reason: "No such session"),
            "{\"janus\":\"trickle\",\"session_id\":\(T.session),\"sender\":\(T.subscriber),\"candidate\":{\"sdpMid\":\"0\",\"sdpMLineIndex\":0,\"candidate\":\"candidate:1 1 udp 1 10.0.0.1 5 typ host\"}}",
            "{\"janus\":\"webrtcup\",\"session_id\":\(T.session),\"sender\":\(T.subscriber)}",
            "{\"janus\":\"hangup\",\"session_id\":\(T.session),\"sender\":\(T.subscriber),\"reason\":\"DTLS alert\"}",
            "{\"janus\":\"media\",\"session_id\":\(T.session),\"sender\":\(T.subscriber),\"type\":\"audio\",\"receiving\":false}",
            "{\"janus\":\"slowlink\",\"session_id\":\(T.session),\"sender\":\(T.subscriber),\"uplink\":true,\"lost\":3}",
            "{\"janus\":\"detached\",\"session_id\":\(T.session),\"sender\":\(T.subscriber)}",
            "{\"janus\":\"timeout\",\"session_id\":\(T.session)}",
            "{\"janus\":\"keepalive\"}",
        ]
    }

    static let replacements: [JSONValue] = [
        .null, .bool(true), .number("-1"), .number("0"), .number("1e999"), .number("184467440737095516160"),
        .number("3.25"), .string(""), .string("ok"), .string("\(JanusTranscript.bob)"), .array([]),
        .array([.number("1"), .string("x")]), .object([:]), .object(["id": .number("7")]),
    ]

    /// Replaces, deletes or adds one node somewhere in `value`.
    static func mutate(_ value: JSONValue, _ random: inout SplitMix64, depth: Int = 0) -> JSONValue {
        switch value {
        case .object(var members) where !members.isEmpty && Int.random(in: 0..<4, using: &random) > 0:
            let key = members.keys.sorted()[Int.random(in: 0..<members.count, using: &random)]
            switch Int.random(in: 0..<6, using: &random) {
            case 0: members[key] = nil
            case 1: members["junk\(depth)"] = replacements.randomElement(using: &random)!
            default: members[key] = mutate(members[key]!, &random, depth: depth + 1)
            }
            return .object(members)
        case .array(var elements) where !elements.isEmpty && Int.random(in: 0..<4, using: &random) > 0:
            let index = Int.random(in: 0..<elements.count, using: &random)
            if Int.random(in: 0..<4, using: &random) == 0 {
                elements.remove(at: index)
            } else {
                elements[index] = mutate(elements[index], &random, depth: depth + 1)
            }
            return .array(elements)
        default:
            return replacements.randomElement(using: &random)!
        }
    }

    /// Byte-level damage to a text: truncation, a flipped character, a doubled chunk.
    static func damage(_ text: String, _ random: inout SplitMix64) -> String {
        var bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return text }
        switch Int.random(in: 0..<3, using: &random) {
        case 0: bytes.removeLast(Int.random(in: 1...bytes.count, using: &random))
        case 1: bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
        default:
            let from = Int.random(in: 0..<bytes.count, using: &random)
            let to = min(bytes.count, from + Int.random(in: 1...40, using: &random))
            bytes.insert(contentsOf: bytes[from..<to], at: from)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func mutatedMessagesNeverBreakTheFollower(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var t = try T.subscribed()
        let corpus = Self.corpus(t).map { try! JSONValue.parse($0) }
        for round in 0..<500 {
            let original = corpus.randomElement(using: &random)!
            let text: String
            switch Int.random(in: 0..<10, using: &random) {
            case 0: text = original.text
            case 1, 2: text = Self.damage(original.text, &random)
            default:
                var value = original
                for _ in 0..<Int.random(in: 1...3, using: &random) { value = Self.mutate(value, &random) }
                text = value.text
            }
            t.now += Double.random(in: 0...3, using: &random)
            t.receive(text)
            if round % 7 == 0 { _ = try? t.answer() }
            if round % 11 == 0 { t.poll(at: t.now) }
            if t.follower.phase == .disconnected { t.collect(t.follower.transportRestored(now: t.now)) }
            let inFlight = t.follower.pending.values.filter {
                switch $0.kind {
                case .joinSubscriber, .subscribe, .unsubscribe: true
                default: false
                }
            }
            #expect(inFlight.count <= 1, "round \(round): \(text)")
        }
        for request in t.sent {
            let parsed = try JSONValue.parse(request.text)
            #expect(parsed["janus"]?.string != nil && parsed["transaction"]?.string != nil)
        }
        #expect(t.follower.ignoredCount > 0)
        #expect(t.follower.ignoredReasons.allSatisfy { !$0.isEmpty })
    }
}
