@testable import ICE

/// A deterministic TURN server (RFC 8656 over UDP, long-term credentials) for the virtual network:
/// Allocate (401 first, 438 when the NONCE changed), Refresh, CreatePermission, ChannelBind, Send
/// indications out, Data indications or ChannelData in, with permission and channel lifetimes.
/// Its messages are built with the product's STUN codec: interoperability is the coturn test's job.
final class TURNServerModel {
    struct Output {
        var datagram: [UInt8]
        var from: STUNAddress
        var to: STUNAddress
    }

    struct Allocation {
        var client: STUNAddress
        var relay: STUNAddress
        var expiresMicros: Int64
        var permissions: [String: Int64] = [:]
        var channels: [UInt16: (peer: STUNAddress, expiresMicros: Int64)] = [:]
    }

    /// One request as received: when, its method, whether it carried valid credentials, what was answered.
    struct Request {
        var time: Int64
        var method: UInt16
        var authenticated: Bool
        var answer: Int   // 200 or the error code
        var lifetime: UInt32?
    }

    let address: STUNAddress
    let relayIP: String
    let realm = "flowrec"
    let username: String
    let password: String
    var nonce = "nonce-1"
    var lifetimeSeconds: UInt32 = 600
    /// Answers nothing at all (a dead server).
    var silent = false
    /// Answers an authenticated Allocate with this error instead of allocating.
    var allocateError: Int?
    private(set) var allocations: [STUNAddress: Allocation] = [:]
    private(set) var requests: [Request] = []
    private(set) var sendIndications = 0
    private(set) var channelDataIn = 0
    private(set) var dataIndications = 0
    private(set) var channelDataOut = 0
    /// Peer datagrams dropped for want of a permission.
    private(set) var droppedNoPermission = 0
    private var nextPort: UInt16 = 49160

    init(address: STUNAddress, relayIP: String, username: String = "test", password: String = "secret") {
        self.address = address
        self.relayIP = relayIP
        self.username = username
        self.password = password
    }

    var key: [UInt8] { TURN.longTermKey(username: username, realm: realm, password: password) }

    func requests(_ method: UInt16) -> [Request] { requests.filter { $0.method == method } }

    /// What a datagram sent to `to` causes, nil when `to` is neither the server nor a relayed address.
    func handle(_ datagram: [UInt8], from: STUNAddress, to: STUNAddress, now: Int64) -> [Output]? {
        expire(now: now)
        if to == address { return silent ? [] : fromClient(datagram, from: from, now: now) }
        guard let (client, allocation) = allocations.first(where: { $0.value.relay == to }) else { return nil }
        guard allocation.permissions[from.ip] != nil else {
            droppedNoPermission += 1
            return []
        }
        if let (channel, _) = allocation.channels.first(where: { $0.value.peer == from }) {
            channelDataOut += 1
            return [Output(datagram: TURN.channelData(channel: channel, datagram), from: address, to: client)]
        }
        dataIndications += 1
        let indication = STUNMessage(method: STUNMessage.dataMethod, messageClass: .indication, transactionID: Array(repeating: 7, count: 12),
                                     attributes: [.xorPeerAddress(from), .data(datagram)])
        return [Output(datagram: indication.serialized(), from: address, to: client)]
    }

    private func expire(now: Int64) {
        for (client, var allocation) in allocations {
            if allocation.expiresMicros <= now {
                allocations[client] = nil
                continue
            }
            allocation.permissions = allocation.permissions.filter { $0.value > now }
            allocation.channels = allocation.channels.filter { $0.value.expiresMicros > now }
            allocations[client] = allocation
        }
    }

    private func fromClient(_ datagram: [UInt8], from client: STUNAddress, now: Int64) -> [Output] {
        if let (channel, data) = TURN.parseChannelData(datagram) {
            guard let allocation = allocations[client], let bound = allocation.channels[channel] else { return [] }
            channelDataIn += 1
            return [Output(datagram: data, from: allocation.relay, to: bound.peer)]
        }
        guard let message = try? STUNMessage(parsing: datagram) else { return [] }
        if message.messageClass == .indication {
            guard message.method == STUNMessage.sendMethod, let allocation = allocations[client],
                  let peer = message.xorPeerAddress, let data = message.data, allocation.permissions[peer.ip] != nil else { return [] }
            sendIndications += 1
            return [Output(datagram: data, from: allocation.relay, to: peer)]
        }
        guard message.messageClass == .request else { return [] }
        func reply(_ cls: STUNMessage.Class, _ attributes: [STUNAttribute], authenticated: Bool, code: Int) -> [Output] {
            requests.append(Request(time: now, method: message.method, authenticated: authenticated, answer: code,
                                    lifetime: message.lifetime))
            let response = STUNMessage(method: message.method, messageClass: cls, transactionID: message.transactionID,
                                       attributes: attributes)
            return [Output(datagram: response.serialized(integrityKey: authenticated ? key : nil), from: address, to: client)]
        }
        func error(_ code: Int, authenticated: Bool, _ extra: [STUNAttribute] = []) -> [Output] {
            reply(.errorResponse, [.errorCode(code: code, reason: "error \(code)")] + extra, authenticated: authenticated, code: code)
        }
        // Long-term credentials (RFC 8489 §9.2.4).
        guard message.hasMessageIntegrity, message.username != nil else {
            return error(401, authenticated: false, [.realm(realm), .nonce(nonce)])
        }
        guard message.username == username, message.realm == realm, STUNMessage.verifyIntegrity(datagram, key: key) else {
            return error(401, authenticated: false, [.realm(realm), .nonce(nonce)])
        }
        guard message.nonce == nonce else { return error(438, authenticated: false, [.realm(realm), .nonce(nonce)]) }
        switch message.method {
        case STUNMessage.allocateMethod:
            if let allocateError { return error(allocateError, authenticated: true) }
            guard allocations[client] == nil else { return error(437, authenticated: true) }
            guard message.requestedTransport == TURN.udpTransport else { return error(442, authenticated: true) }
            let relay = STUNAddress(ip: relayIP, port: nextPort)
            nextPort += 1
            allocations[client] = Allocation(client: client, relay: relay, expiresMicros: now + Int64(lifetimeSeconds) * 1_000_000)
            return reply(.successResponse, [.xorRelayedAddress(relay), .lifetime(lifetimeSeconds), .xorMappedAddress(client)],
                         authenticated: true, code: 200)
        case STUNMessage.refreshMethod:
            guard allocations[client] != nil else { return error(437, authenticated: true) }
            let lifetime = min(message.lifetime ?? lifetimeSeconds, 3600)
            if lifetime == 0 {
                allocations[client] = nil
            } else {
                allocations[client]!.expiresMicros = now + Int64(lifetime) * 1_000_000
            }
            return reply(.successResponse, [.lifetime(lifetime)], authenticated: true, code: 200)
        case STUNMessage.createPermissionMethod:
            guard allocations[client] != nil, let peer = message.xorPeerAddress else { return error(400, authenticated: true) }
            allocations[client]!.permissions[peer.ip] = now + 300_000_000
            return reply(.successResponse, [], authenticated: true, code: 200)
        case STUNMessage.channelBindMethod:
            guard allocations[client] != nil, let peer = message.xorPeerAddress, let channel = message.channelNumber,
                  TURN.channelRange.contains(channel) else { return error(400, authenticated: true) }
            if let bound = allocations[client]!.channels[channel], bound.peer != peer { return error(400, authenticated: true) }
            allocations[client]!.channels[channel] = (peer, now + 600_000_000)
            allocations[client]!.permissions[peer.ip] = now + 300_000_000
            return reply(.successResponse, [], authenticated: true, code: 200)
        default:
            return error(400, authenticated: true)
        }
    }
}
