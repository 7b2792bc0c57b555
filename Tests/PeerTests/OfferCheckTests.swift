import DTLS
import ICE
import LoopbackPeer
import Testing
@testable import Peer

/// Lenient offers are refused with a reason before they take a slot; candidates no check may go to
/// are skipped.
@Suite struct OfferCheckTests {
    private func answer(_ offer: String) -> String? {
        do {
            _ = try PeerConnection(offer: offer, hostAddresses: [STUNAddress(ip: "10.0.0.1", port: 6000)],
                                   certificate: try DTLSCertificate.generate())
            return nil
        } catch let error as PeerError {
            return error.description
        } catch {
            return "\(error)"
        }
    }

    @Test func badOffersAreRefusedNamingWhatIsWrong() throws {
        let publisher = try LoopbackPublisher()
        let good = publisher.offer()
        #expect(answer(good) == nil)
        let cases: [(String, String)] = [
            (good.replacingOccurrences(of: "a=ice-ufrag:pubU", with: "a=ice-ufrag:abc"), "a=ice-ufrag must be 4 to 256"),
            (good.replacingOccurrences(of: "a=ice-ufrag:pubU", with: "a=ice-ufrag:" + String(repeating: "u", count: 10_240)),
             "10240 bytes"),
            (good.replacingOccurrences(of: "a=ice-ufrag:pubU", with: "a=ice-ufrag:pu;U"), "a=ice-ufrag must be"),
            (good.replacingOccurrences(of: "a=ice-pwd:publisherpassword0123456", with: "a=ice-pwd:short"), "a=ice-pwd must be 22"),
            (good.replacingOccurrences(of: "m=audio 9 ", with: "m=audio 99999999 "), "port 99999999"),
            (good.replacingOccurrences(of: "a=mid:1", with: "a=mid:0"), "a=mid:0 names two m-lines"),
            (good.replacingOccurrences(of: "a=sendonly", with: "a=recvonly"), "the offer sends no media"),
            (good.replacingOccurrences(of: "a=sendonly", with: "a=inactive"), "the offer sends no media"),
        ]
        for (offer, reason) in cases {
            let refused = answer(offer)
            #expect(refused?.contains(reason) == true, "expected '\(reason)', got \(refused ?? "an answer")")
        }
    }

    @Test(arguments: ["224.0.0.251 5353", "239.255.255.250 1900", "255.255.255.255 9", "0.0.0.0 9", "10.0.0.2 0",
                      "ff02::1 5000", ":: 5000"])
    func candidatesNoCheckMayGoToAreSkipped(address: String) {
        let agent = ICEAgent(role: .controlled, local: ICECredentials(ufrag: "abcd", pwd: "0123456789012345678901"))
        guard let candidate = try? ICECandidate(sdpValue: "1 1 udp 2130706431 \(address) typ host") else { return }  // refused as text: fine too
        agent.addRemoteCandidate(candidate)
        #expect(agent.remoteCandidates.isEmpty, "\(address)")
        #expect(agent.stats.remoteCandidatesSkipped == 1)
    }
}
