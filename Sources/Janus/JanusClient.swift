import NIOCore
import NIOPosix

/// Follows a Janus videoroom for its owner: the transport, the ``JanusRoomFollower`` core and its
/// timers, and reconnection.
///
/// ```swift
/// let client = JanusClient(options: JanusClientOptions(url: "ws://10.0.0.5:8188", room: JanusRoomID("1234")))
/// try await client.start()            // connected, session created, joined
/// for await event in client.events {  // .offer → try await client.answer(sdp: …), .publishers, …
/// }
/// await client.stop()
/// ```
public actor JanusClient {
    /// Everything the follower reports, in order; finishes after `stop()` or `.connectionLost`.
    public nonisolated let events: AsyncStream<JanusEvent>
    public nonisolated let options: JanusClientOptions

    enum State {
        case idle, starting, running, reconnecting, stopping, stopped
    }

    typealias Connector = @Sendable (JanusEndpoint) async throws -> any JanusTransport

    private let eventSink: AsyncStream<JanusEvent>.Continuation
    private let connector: Connector
    private var core: JanusRoomFollower
    private var state = State.idle
    private var endpoint: JanusEndpoint?
    private var transport: (any JanusTransport)?
    private var generation = 0
    private var timerTask: Task<Void, Never>?
    private var reconnectTask: Task<Void, Never>?
    private var startWaiter: CheckedContinuation<Void, any Error>?
    private var stopWaiter: CheckedContinuation<Void, Never>?
    private let origin = ContinuousClock.now

    /// - Parameter group: where connections run; the NIO singleton group by default.
    public init(options: JanusClientOptions, group: (any EventLoopGroup)? = nil) {
        let group = group ?? MultiThreadedEventLoopGroup.singleton
        let timeout = options.connectTimeoutSeconds
        self.init(options: options) { endpoint in try await endpoint.connect(group: group, timeout: timeout) }
    }

    /// With a custom way to open transports (tests).
    init(options: JanusClientOptions, connector: @escaping Connector) {
        self.options = options
        self.connector = connector
        core = JanusRoomFollower(config: options.follower)
        (events, eventSink) = AsyncStream.makeStream(of: JanusEvent.self)
    }

    /// Seconds since the client was made (the core's clock).
    private var now: Double {
        let elapsed = ContinuousClock.now - origin
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Connects, creates the session, attaches the handles and joins the room.
    /// - Throws: a ``JanusError``: the URL, the connection, Janus's refusal (room not found,
    ///   unauthorized, …), or no join within `startTimeoutSeconds`.
    public func start() async throws {
        guard state == .idle else { throw JanusError.notRunning }
        state = .starting
        let endpoint: JanusEndpoint
        let transport: any JanusTransport
        do {
            endpoint = try JanusEndpoint(url: options.url)
            transport = try await connector(endpoint)
        } catch {
            finish()
            throw error as? JanusError ?? .unreachable(url: options.url, reason: "\(error)")
        }
        guard state == .starting else {
            await transport.close()
            throw JanusError.notRunning
        }
        self.endpoint = endpoint
        attach(transport)
        let limit = options.startTimeoutSeconds
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
            startWaiter = waiter
            flush(core.start(now: now))
            afterCore()
            Task { [weak self] in
                try? await Task.sleep(for: .seconds(limit))
                await self?.failStart(.timedOut("Janus did not complete create, attach and join within \(limit) s"))
            }
        }
    }

    /// Sends the SDP answer to Janus's latest offer (a `start` request).
    /// - Throws: ``JanusError/noOfferToAnswer`` or ``JanusError/notRunning``.
    public func answer(sdp: String) async throws {
        guard state == .running || state == .reconnecting else { throw JanusError.notRunning }
        do {
            flush(try core.answer(sdp: sdp, now: now))
        } catch {
            throw JanusError.noOfferToAnswer
        }
        afterCore()
    }

    /// Trickles one of our ICE candidates (`candidate` nil: end of candidates).
    public func trickle(candidate: String?, mid: String?, sdpMLineIndex: Int? = nil) async {
        guard state == .running || state == .reconnecting else { return }
        flush(core.trickle(candidate: candidate, mid: mid, sdpMLineIndex: sdpMLineIndex, now: now))
        afterCore()
    }

    /// Leaves the room, detaches, destroys the session and closes the connection, waiting at most
    /// `stopTimeoutSeconds` for Janus. Ends `events`.
    public func stop() async {
        switch state {
        case .stopping, .stopped: return
        case .idle:
            finish()
            return
        case .starting, .running, .reconnecting:
            break
        }
        state = .stopping
        reconnectTask?.cancel()
        if let waiter = startWaiter {
            startWaiter = nil
            waiter.resume(throwing: JanusError.notRunning)
        }
        if transport != nil {
            flush(core.stop(now: now))
            afterCore()
            if !core.isEnded {
                let limit = options.stopTimeoutSeconds
                await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                    stopWaiter = waiter
                    Task { [weak self] in
                        try? await Task.sleep(for: .seconds(limit))
                        await self?.resumeStopWaiter()
                    }
                }
            }
        }
        let open = transport
        transport = nil
        generation += 1
        await open?.close()
        finish()
    }

    /// Incoming messages (diagnostics): how many were ignored and the latest reasons.
    public var ignored: (count: Int, reasons: [String]) { (core.ignoredCount, core.ignoredReasons) }

    // MARK: Plumbing

    private func attach(_ transport: any JanusTransport) {
        generation += 1
        let current = generation
        self.transport = transport
        Task { [weak self] in
            for await input in transport.inputs {
                await self?.receive(input, generation: current)
            }
            await self?.receive(.closed(reason: "the transport ended"), generation: current)
        }
    }

    private func receive(_ input: JanusTransportInput, generation current: Int) async {
        guard current == generation else { return }
        switch input {
        case .text(let text):
            flush(core.receive(text, now: now))
            afterCore()
        case .closed(let reason):
            generation += 1
            transport = nil
            await transportClosed(reason)
        }
    }

    private func flush(_ requests: [JanusRequest]) {
        guard let transport else { return }
        for request in requests { transport.send(request.text) }
    }

    /// Passes the core's events on, reacts to its state, re-arms the timer.
    private func afterCore() {
        for event in core.takeEvents() {
            if let waiter = startWaiter {
                switch event {
                case .joined:
                    startWaiter = nil
                    state = .running
                    waiter.resume()
                case .error(let code, let reason):
                    failStart(JanusError.from(code: code, reason: reason, room: options.follower.room))
                default:
                    break
                }
            }
            eventSink.yield(event)
        }
        if state == .stopping, core.isEnded { resumeStopWaiter() }
        if let problem = core.transportProblem, let transport {
            // A keepalive or claim went unanswered: drop this connection, the close path reconnects.
            self.transport = nil
            generation += 1
            Task { await transport.close() }
            Task { await self.transportClosed(problem) }
        }
        rearmTimer()
    }

    private func rearmTimer() {
        timerTask?.cancel()
        timerTask = nil
        guard state != .stopped, let deadline = core.nextDeadline else { return }
        let delay = max(0, deadline - now)
        timerTask = Task { [weak self] in
            try? await Task.sleep(for: .seconds(delay))
            guard !Task.isCancelled else { return }
            await self?.timerFired()
        }
    }

    private func timerFired() {
        flush(core.poll(now: now))
        afterCore()
    }

    private func transportClosed(_ reason: String) async {
        switch state {
        case .starting:
            failStart(.connectionClosed(reason: reason))
        case .running, .reconnecting:
            core.transportLost(now: now)
            if options.reconnect {
                state = .reconnecting
                reconnectTask?.cancel()
                reconnectTask = Task { [weak self] in await self?.reconnect(after: reason) }
            } else {
                lose("\(reason)")
            }
        case .stopping:
            core.transportLost(now: now)
            resumeStopWaiter()
        case .idle, .stopped:
            break
        }
    }

    /// Tries to connect again with a growing delay, within the budget; then claims (via the core).
    private func reconnect(after reason: String) async {
        let deadline = now + options.reconnectBudgetSeconds
        var delay = options.reconnectInitialDelay
        var lastError = reason
        while now + delay <= deadline {
            try? await Task.sleep(for: .seconds(delay))
            guard state == .reconnecting, !Task.isCancelled, let endpoint else { return }
            do {
                let transport = try await connector(endpoint)
                guard state == .reconnecting else {
                    await transport.close()
                    return
                }
                attach(transport)
                state = .running
                flush(core.transportRestored(now: now))
                afterCore()
                return
            } catch {
                lastError = "\(error)"
            }
            delay = min(delay * 2, options.reconnectMaxDelay)
        }
        guard state == .reconnecting else { return }
        lose("\(reason); no reconnection within \(options.reconnectBudgetSeconds) s (last: \(lastError))")
    }

    private func failStart(_ error: JanusError) {
        guard let waiter = startWaiter else { return }
        startWaiter = nil
        waiter.resume(throwing: error)
        let open = transport
        transport = nil
        generation += 1
        if let open { Task { await open.close() } }
        finish()
    }

    private func lose(_ reason: String) {
        eventSink.yield(.connectionLost(reason: reason))
        finish()
    }

    private func resumeStopWaiter() {
        stopWaiter?.resume()
        stopWaiter = nil
    }

    private func finish() {
        state = .stopped
        timerTask?.cancel()
        timerTask = nil
        reconnectTask?.cancel()
        eventSink.finish()
    }
}
