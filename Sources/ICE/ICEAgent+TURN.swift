/// The relayed candidate: a TURN client (RFC 8656 over UDP, long-term credentials RFC 8489 §9.2)
/// on the driver's one socket. Allocate (401 → credentials, 438 → new NONCE), Refresh at 80 % of
/// the lifetime, CreatePermission for the remote IPs of relayed pairs (every 4 minutes, they last
/// 5), ChannelBind for the selected relayed pair (every 5 minutes, they last 10), Refresh with
/// lifetime 0 on `close()`.
extension ICEAgent {
    /// TURN requests: RTO 500 ms doubling up to 2 s, 7 transmissions (0, 0.5, 1.5, 3.5, 5.5, 7.5,
    /// 9.5 s), given up at 11.5 s.
    static let turnRTOMicros: Int64 = 500_000
    static let turnMaxRTOMicros: Int64 = 2_000_000
    static let turnMaxTransmissions = 7
    /// The lifetime asked for in a Refresh (the server's default, RFC 8656 §3.2).
    static let turnLifetimeSeconds: UInt32 = 600
    static let turnPermissionRefreshMicros: Int64 = 240_000_000
    static let turnChannelRefreshMicros: Int64 = 300_000_000
    /// A permission, channel or refresh that failed is tried again this much later.
    static let turnRetryMicros: Int64 = 5_000_000
    /// A request is sent at most this many times with new credentials (401, 438) before it fails.
    static let turnMaxAuthAttempts = 3

    /// Starts allocating a relayed candidate on ``ICEAgentOptions/turnServer``: the Allocate goes
    /// out from the next ``poll(nowMicros:)``. The candidate comes as ``ICEEvent/localCandidate(_:)``
    /// and is paired with every remote candidate of its family; gathering completes
    /// (``ICEEvent/gatheringComplete``, once ``finishGathering()`` was called or the STUN request
    /// is answered) when the allocation succeeds or is given up
    /// (``ICEAgentStats/turnAllocationFailures``). Does nothing without a TURN server, when already
    /// started, or after ``close()``; a server address that is no IP literal counts as a failure.
    public func gatherRelayed() {
        if turn == nil, options.turnServer != nil, !closed, !gatheringComplete {
            stats.turnAllocationFailures += 1   // the server's address is no IP literal
        }
        guard !closed, turn?.phase == .idle else { return }
        turn?.phase = .wanted
    }

    // MARK: Sending

    /// Queues a TURN request (sent from the next poll, or by the caller stepping it); returns its
    /// transaction ID. With a realm and nonce known it carries USERNAME, REALM, NONCE and
    /// MESSAGE-INTEGRITY.
    @discardableResult
    func sendTURN(_ request: TURNRequest, attempt: Int = 0) -> [UInt8] {
        guard let turn else { return [] }
        let id = newTransactionID()
        var attributes = request.attributes
        var key: [UInt8]?
        if let realm = turn.realm, let nonce = turn.nonce, let longTermKey = turn.key {
            attributes += [.username(turn.username), .realm(realm), .nonce(nonce)]
            key = longTermKey
        }
        let message = STUNMessage(method: request.method, messageClass: .request, transactionID: id, attributes: attributes)
        transactions[id] = ICETransaction(purpose: .turn(request, attempt: attempt), datagram: message.serialized(integrityKey: key),
                                          path: ICEPath(remote: turn.server, relayed: false), responseKey: key,
                                          nowMicros: nowMicros, rto: Self.turnRTOMicros, maxRTO: Self.turnMaxRTOMicros,
                                          maxTransmissions: Self.turnMaxTransmissions)
        return id
    }

    /// `data` for `peer` through the TURN server: ChannelData on a bound channel, else a Send
    /// indication.
    func relayTransmit(_ data: [UInt8], to peer: STUNAddress) -> ICETransmit {
        guard let turn else { return ICETransmit(datagram: data, destination: peer) }
        stats.relayedSent += 1
        if let channel = turn.channels[peer], channel.bound {
            return ICETransmit(datagram: TURN.channelData(channel: channel.number, data), destination: turn.server)
        }
        return ICETransmit(datagram: TURN.sendIndication(to: peer, data, transactionID: newTransactionID()),
                           destination: turn.server)
    }

    // MARK: Timers

    /// Peer IPs that need a permission: those of relayed pairs not failed, and of the selected pair.
    var neededPermissions: Set<String> {
        var ips = Set<String>()
        for pair in checklist.pairs where pair.local.type == .relayed && pair.state != .failed {
            ips.insert(pair.remote.address.ip)
        }
        if let selection, selection.local.type == .relayed { ips.insert(selection.remote.address.ip) }
        return ips
    }

    /// The peer of the selected relayed pair, when its channel is to be bound now.
    var channelToBind: STUNAddress? {
        guard let turn, let selection, selection.local.type == .relayed else { return nil }
        let peer = selection.remote.address
        guard let channel = turn.channels[peer] else {
            return turn.channels.count < TURN.channelRange.count ? peer : nil
        }
        return !channel.bound && !channel.inFlight && channel.refreshMicros == nil ? peer : nil
    }

    /// When ``maintainTURN()`` has something to do.
    var turnDueMicros: Int64? {
        guard let turn else { return nil }
        switch turn.phase {
        case .wanted: return nowMicros
        case .allocated: break
        default: return nil
        }
        if channelToBind != nil || neededPermissions.contains(where: { turn.permissions[$0] == nil }) { return nowMicros }
        let times = [turn.refreshMicros] + turn.permissions.values.map(\.refreshMicros) + turn.channels.values.map(\.refreshMicros)
        return times.compactMap { $0 }.min()
    }

    /// Queues what is due: the Allocate, a Refresh, permissions and channels (new and refreshed).
    func maintainTURN() {
        guard let phase = turn?.phase else { return }
        if phase == .wanted {
            turn?.phase = .allocating
            sendTURN(.allocate)
            return
        }
        guard phase == .allocated, let current = turn else { return }
        if let due = current.refreshMicros, due <= nowMicros {
            turn?.refreshMicros = nil
            sendTURN(.refresh(lifetime: Self.turnLifetimeSeconds))
        }
        let needed = neededPermissions
        for ip in needed.sorted() where current.permissions[ip] == nil {
            turn?.permissions[ip] = .init(inFlight: true)
            sendTURN(.createPermission(ip: ip))
        }
        for (ip, permission) in current.permissions.sorted(by: { $0.key < $1.key }) {
            guard let due = permission.refreshMicros, due <= nowMicros else { continue }
            if needed.contains(ip) {
                turn?.permissions[ip]?.refreshMicros = nil
                turn?.permissions[ip]?.inFlight = true
                sendTURN(.createPermission(ip: ip))
            } else {
                turn?.permissions[ip] = nil   // let it expire
            }
        }
        let selectedPeer = selection?.local.type == .relayed ? selection?.remote.address : nil
        if let peer = channelToBind {
            var channel = turn?.channels[peer]
            if channel == nil, let number = turn?.takeChannelNumber() { channel = .init(number: number) }
            if var channel {
                channel.inFlight = true
                turn?.channels[peer] = channel
                sendTURN(.channelBind(channel: channel.number, peer: peer))
            }
        }
        for (peer, channel) in current.channels {
            guard let due = channel.refreshMicros, due <= nowMicros else { continue }
            turn?.channels[peer]?.refreshMicros = nil
            if peer == selectedPeer {
                turn?.channels[peer]?.inFlight = true
                sendTURN(.channelBind(channel: channel.number, peer: peer))
            } else {
                turn?.channels[peer]?.bound = false   // retired: not refreshed, the number stays reserved
            }
        }
    }

    // MARK: Receiving

    /// A datagram from the TURN server's address: nil when it is none of TURN's (a Binding message,
    /// say from a STUN server on the same address, or something else), which then takes the
    /// ordinary path.
    func receiveFromTURNServer(_ datagram: [UInt8]) -> ICEReceiveResult? {
        guard let turn else { return nil }
        if TURN.isChannelData(datagram) {
            guard !closed, turn.phase == .allocated else { return .dropped(reason: "ChannelData without an allocation") }
            guard let (channel, data) = TURN.parseChannelData(datagram) else {
                stats.relayedDropped += 1
                return .dropped(reason: "ChannelData whose length runs past the datagram")
            }
            guard let peer = turn.peer(ofChannel: channel) else {
                stats.relayedDropped += 1
                return .dropped(reason: "ChannelData on channel 0x\(hex4(channel)), which is not ours")
            }
            stats.relayedReceived += 1
            return receive(data, path: ICEPath(remote: peer, relayed: true))
        }
        guard STUNMessage.isSTUN(datagram) else { return nil }
        let message: STUNMessage
        do {
            message = try STUNMessage(parsing: datagram)
        } catch {
            stats.malformed += 1
            return .dropped(reason: error.description)
        }
        guard message.method != STUNMessage.bindingMethod else { return nil }
        switch message.messageClass {
        case .indication:
            guard message.method == STUNMessage.dataMethod, !closed, turn.phase == .allocated else {
                stats.relayedDropped += 1
                return .dropped(reason: "TURN indication 0x\(hex4(message.method)) not taken")
            }
            guard let peer = message.xorPeerAddress.flatMap(ICECandidate.canonical), let data = message.data else {
                stats.relayedDropped += 1
                return .dropped(reason: "Data indication without XOR-PEER-ADDRESS or DATA")
            }
            stats.relayedReceived += 1
            return receive(data, path: ICEPath(remote: peer, relayed: true))
        case .successResponse, .errorResponse:
            return handleResponse(message, datagram, path: ICEPath(remote: turn.server, relayed: false))
        case .request:
            stats.malformed += 1
            return .dropped(reason: "a STUN request of method 0x\(hex4(message.method)) from the TURN server")
        }
    }

    /// A response to a TURN request (FINGERPRINT and source already checked; the transaction is
    /// still registered): check MESSAGE-INTEGRITY, answer a 401/438 challenge with the request
    /// again, or apply the success or the error.
    func turnAnswered(_ response: STUNMessage, _ bytes: [UInt8], id: [UInt8], request: TURNRequest, attempt: Int,
                      key: [UInt8]?) -> ICEReceiveResult {
        guard response.method == request.method else {
            stats.malformed += 1
            return .dropped(reason: "a response of method 0x\(hex4(response.method)) to a TURN \(request.name)")
        }
        let code = response.messageClass == .errorResponse ? response.errorCode?.code ?? 0 : nil
        // Responses to authenticated requests are authenticated, except the challenges.
        if response.hasMessageIntegrity || (code == nil && key != nil) {
            guard let key, STUNMessage.verifyIntegrity(bytes, key: key) else {
                stats.integrityFailures += 1
                return .dropped(reason: "TURN \(request.name) response failing MESSAGE-INTEGRITY")
            }
        }
        transactions[id] = nil
        guard var turn else { return .handled([]) }
        if code == 401 || code == 438, attempt + 1 < Self.turnMaxAuthAttempts,
           let nonce = response.nonce, let realm = response.realm ?? turn.realm {
            turn.realm = realm
            turn.nonce = nonce
            turn.key = TURN.longTermKey(username: turn.username, realm: realm, password: turn.password)
            self.turn = turn
            sendTURN(request, attempt: attempt + 1)
            return .handled([])
        }
        if let code {
            stats.turnErrorResponses += 1
            turnRequestFailed(request, code: code)
        } else {
            turnSucceeded(request, response)
        }
        return .handled([])
    }

    func turnSucceeded(_ request: TURNRequest, _ response: STUNMessage) {
        guard let phase = turn?.phase else { return }
        switch request {
        case .allocate:
            guard phase == .allocating else { return }
            guard let relayed = response.xorRelayedAddress.flatMap(ICECandidate.canonical),
                  !localCandidates.contains(where: { $0.address == relayed }), let server = turn?.server else {
                allocationFailed()
                return
            }
            let mapped = response.xorMappedAddress.flatMap(ICECandidate.canonical)
            let candidate = ICECandidate(
                foundation: ICECandidate.foundation(type: .relayed, baseIP: relayed.ip, server: server.ip),
                priority: ICECandidate.priority(type: .relayed), address: relayed, type: .relayed,
                related: mapped ?? bestLocal(ipv6: relayed.ip.contains(":"))?.address)
            turn?.phase = .allocated
            turn?.relayed = candidate
            scheduleRefresh(lifetime: response.lifetime ?? Self.turnLifetimeSeconds)
            stats.turnAllocations += 1
            localCandidates.append(candidate)
            emit(.localCandidate(candidate))
            if !concluded {
                for remote in remoteCandidates { pairIndex(for: remote, relayed: true) }
            }
            if !gatherPending { completeGathering() }
        case .refresh(let lifetime):
            if lifetime == 0 {
                turn?.phase = .released
                stats.turnReleases += 1
            } else if phase == .allocated {
                stats.turnRefreshes += 1
                scheduleRefresh(lifetime: response.lifetime ?? lifetime)
            }
        case .createPermission(let ip):
            guard phase == .allocated, turn?.permissions[ip] != nil else { return }
            stats.turnPermissions += 1
            turn?.permissions[ip] = .init(installed: true, inFlight: false,
                                          refreshMicros: nowMicros + Self.turnPermissionRefreshMicros)
        case .channelBind(let number, let peer):
            guard phase == .allocated, turn?.channels[peer]?.number == number else { return }
            stats.turnChannelBinds += 1
            turn?.channels[peer] = .init(number: number, bound: true, inFlight: false,
                                         refreshMicros: nowMicros + Self.turnChannelRefreshMicros)
        }
    }

    /// `seconds` as the server granted it (at most an hour): refresh at 80 % of it, at least 1 s on.
    func scheduleRefresh(lifetime seconds: UInt32) {
        let lifetime = Int64(min(seconds, 3600)) * 1_000_000
        turn?.expiresMicros = nowMicros + lifetime
        turn?.refreshMicros = nowMicros + max(lifetime * 4 / 5, 1_000_000)
    }

    /// An error response (`code`), or no response (`code` nil).
    func turnRequestFailed(_ request: TURNRequest, code: Int?) {
        guard let turn else { return }
        switch request {
        case .allocate:
            if turn.phase == .allocating { allocationFailed() }
        case .refresh(let lifetime):
            if lifetime == 0 {
                self.turn?.phase = .released   // gone or given up: nothing more to do
            } else if turn.phase == .allocated {
                // 437: the allocation is gone (RFC 8656 §7.3); otherwise try again while it lasts.
                if code == 437 || nowMicros + Self.turnRetryMicros >= turn.expiresMicros {
                    allocationLost()
                } else {
                    self.turn?.refreshMicros = nowMicros + Self.turnRetryMicros
                }
            }
        case .createPermission(let ip):
            guard turn.permissions[ip] != nil else { return }
            self.turn?.permissions[ip] = .init(installed: false, inFlight: false, refreshMicros: nowMicros + Self.turnRetryMicros)
        case .channelBind(_, let peer):
            guard turn.channels[peer] != nil else { return }
            self.turn?.channels[peer]?.bound = false
            self.turn?.channels[peer]?.inFlight = false
            self.turn?.channels[peer]?.refreshMicros = nowMicros + Self.turnRetryMicros
        }
    }

    func turnTimedOut(_ request: TURNRequest) {
        stats.turnTimeouts += 1
        turnRequestFailed(request, code: nil)
    }

    /// The Allocate failed or was given up: gathering goes on (completes) without a relayed candidate.
    func allocationFailed() {
        turn?.phase = .failed
        stats.turnAllocationFailures += 1
        if !gatherPending { completeGathering() }
    }

    /// The allocation expired or the server forgot it: relayed pairs still being checked fail
    /// (a selected relayed pair loses consent on its own).
    func allocationLost() {
        turn?.phase = .failed
        turn?.refreshMicros = nil
        turn?.permissions = [:]
        turn?.channels = [:]
        for index in checklist.pairs.indices where checklist[index].local.type == .relayed && checklist[index].isPending {
            checklist[index].state = .failed
            stats.pairsFailed += 1
        }
    }
}
