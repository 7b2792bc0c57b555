#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
@testable import Janus

/// A manual check against a real Janus (Tests/Live/janus_env.py in a private network namespace),
/// enabled only when `FLOWREC_JANUS_LIVE_URL` is set, e.g. `ws://10.99.0.1:8188` or
/// `http://10.99.0.1:8088/janus`; `FLOWREC_JANUS_LIVE_SECONDS` (default 20) bounds it. Offers are
/// answered with a synthetic SDP (no media flows: Janus accepts it and later hangs up on ICE), so
/// it checks the signalling only; every event is printed.
@Suite struct JanusLiveCheckTests {
    static let url = getenvString("FLOWREC_JANUS_LIVE_URL")
    static let seconds = getenvString("FLOWREC_JANUS_LIVE_SECONDS").flatMap(Double.init) ?? 20

    @Test(.enabled(if: url != nil)) func followARealRoom() async throws {
        let url = try #require(Self.url)
        do {
            try await JanusClient(options: JanusClientOptions(url: url, room: .number(999_999))).start()
            Issue.record("joined a room that does not exist")
        } catch {
            print("live: room 999999: \(error)")
            #expect(error as? JanusError == .roomNotFound(room: .number(999_999), reason: "No such room (999999)"))
        }
        var options = JanusClientOptions(url: url, room: .number(1234), reconnect: true)
        options.reconnectBudgetSeconds = 20
        let client = JanusClient(options: options)
        try await client.start()
        let reader = Task {
            var offers = 0
            for await event in client.events {
                switch event {
                case .offer(let sdp, let streams):
                    offers += 1
                    print("live: offer \(offers): " + streams.map { "\($0.mid)=\($0.type):\($0.feedDisplay ?? "-"):\($0.active)" }
                        .joined(separator: " "))
                    do {
                        try await client.answer(sdp: syntheticAnswer(to: sdp))
                        await client.trickle(candidate: nil, mid: nil)
                    } catch {
                        print("live: answer failed: \(error)")
                    }
                case .publishers(let list):
                    print("live: publishers " + list.map { "\($0.display ?? "?")(\($0.id)):\($0.streams.count)" }.joined(separator: ", "))
                default:
                    print("live: \(event)")
                }
            }
            return offers
        }
        try await Task.sleep(for: .seconds(Self.seconds))
        print("live: ignored \(await client.ignored)")
        await client.stop()
        let offers = await reader.value
        #expect(offers >= 1)
    }
}

func getenvString(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}

/// A recvonly answer shaped after the offer: same m-lines and payload types, our own ICE
/// credentials and a made-up fingerprint.
func syntheticAnswer(to offer: String) -> String {
    let lines = offer.split(whereSeparator: \.isNewline).map(String.init)
    var answer = ["v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0"]
    if let group = lines.first(where: { $0.hasPrefix("a=group:BUNDLE") }) { answer.append(group) }
    let fingerprint = (0..<32).map { _ in "AB" }.joined(separator: ":")
    for line in lines {
        if line.hasPrefix("m=") {
            answer.append(line)
            answer += ["c=IN IP4 0.0.0.0", "a=ice-ufrag:live", "a=ice-pwd:livelivelivelivelivelive",
                       "a=fingerprint:sha-256 \(fingerprint)", "a=setup:active", "a=rtcp-mux"]
            answer.append(line.hasPrefix("m=application") ? "a=sendrecv" : "a=recvonly")
        } else if line.hasPrefix("a=mid:") || line.hasPrefix("a=rtpmap:") || line.hasPrefix("a=fmtp:")
            || line.hasPrefix("a=sctp-port:") {
            answer.append(line)
        }
    }
    return answer.joined(separator: "\r\n") + "\r\n"
}
