/// The checklist (RFC 8445 §6.1.2) with its triggered-check queue (§7.3.1.4): which pair to check
/// next. Pairs are keyed by their path (see ``ICECandidatePair``).
struct ICEChecklist {
    /// A check to send: on the pair of `path`, nominating when `useCandidate`.
    struct Check: Equatable {
        var path: ICEPath
        var useCandidate: Bool
    }

    private(set) var pairs: [ICECandidatePair] = []
    /// FIFO of triggered checks, sent before ordinary ones.
    private(set) var triggered: [Check] = []
    let maxPairs: Int

    init(maxPairs: Int) {
        self.maxPairs = max(1, maxPairs)
    }

    func index(of path: ICEPath) -> Int? {
        pairs.firstIndex { $0.path == path }
    }

    subscript(index: Int) -> ICECandidatePair {
        get { pairs[index] }
        set { pairs[index] = newValue }
    }

    // MARK: Adding and removing pairs

    /// Adds `pair` (Waiting or Frozen by its foundation, RFC 8838 §11) and returns its index; when
    /// the list is full it replaces the lowest-priority unchecked pair if that one ranks lower,
    /// else returns nil.
    mutating func add(_ pair: ICECandidatePair) -> Int? {
        var pair = pair
        let same = pairs.filter { $0.foundation == pair.foundation }
        pair.state = same.contains(where: { $0.state == .waiting || $0.state == .inProgress })
            && !same.contains(where: \.isValid) ? .frozen : .waiting
        if pairs.count >= maxPairs {
            let unchecked = pairs.indices.filter { pairs[$0].state == .frozen || pairs[$0].state == .waiting }
            guard let lowest = unchecked.min(by: { pairs[$0].priority < pairs[$1].priority }),
                  pairs[lowest].priority < pair.priority else { return nil }
            remove(at: lowest)
        }
        pairs.append(pair)
        return pairs.count - 1
    }

    mutating func remove(at index: Int) {
        let path = pairs[index].path
        triggered.removeAll { $0.path == path }
        pairs.remove(at: index)
    }

    /// ICE processing is over (a pair is selected): drop the pairs not yet checked (§8.1.2).
    mutating func removeUnchecked() {
        for index in pairs.indices.reversed() where pairs[index].state == .frozen || pairs[index].state == .waiting {
            if !triggered.contains(where: { $0.path == pairs[index].path }) { remove(at: index) }
        }
    }

    mutating func updatePriorities(role: ICERole) {
        for index in pairs.indices { pairs[index].updatePriority(role: role) }
    }

    // MARK: Scheduling

    /// Queues a triggered check (once per pair and kind); `first` puts it at the front.
    mutating func trigger(_ check: Check, first: Bool = false) {
        guard !triggered.contains(check) else { return }
        if first { triggered.insert(check, at: 0) } else { triggered.append(check) }
    }

    /// Forgets queued nominations (the agent is no longer controlling).
    mutating func dropNominations() {
        triggered.removeAll(where: \.useCandidate)
    }

    /// Sets the frozen pairs of `foundation` to Waiting (§7.2.5.3.3, a pair of it succeeded).
    mutating func unfreeze(foundation: String) {
        for index in pairs.indices where pairs[index].state == .frozen && pairs[index].foundation == foundation {
            pairs[index].state = .waiting
        }
    }

    /// The check `takeNext` would return, without taking it.
    func peekNext(ordinary: Bool) -> Check? {
        if let entry = triggered.first(where: isActionable) { return entry }
        guard ordinary, let index = nextOrdinary() else { return nil }
        return Check(path: pairs[index].path, useCandidate: false)
    }

    /// The next check to send (§6.1.4.2): the first actionable triggered check, else (when
    /// `ordinary`) the highest-priority Waiting pair, else a Frozen pair whose foundation has
    /// nothing Waiting or In-Progress.
    mutating func takeNext(ordinary: Bool) -> Check? {
        if let position = triggered.firstIndex(where: isActionable) {
            let entry = triggered[position]
            triggered.removeFirst(position + 1)
            return entry
        }
        triggered.removeAll()
        guard ordinary, let index = nextOrdinary() else { return nil }
        return Check(path: pairs[index].path, useCandidate: false)
    }

    /// A triggered check still worth sending: its pair exists and is not valid yet, or it nominates.
    private func isActionable(_ check: Check) -> Bool {
        guard let index = index(of: check.path) else { return false }
        return check.useCandidate ? pairs[index].isValid : !pairs[index].isValid
    }

    private func nextOrdinary() -> Int? {
        let waiting = pairs.indices.filter { pairs[$0].state == .waiting }
        if let best = waiting.max(by: { pairs[$0].priority < pairs[$1].priority }) { return best }
        let busy = Set(pairs.filter { $0.state == .inProgress }.map(\.foundation))
        let frozen = pairs.indices.filter { pairs[$0].state == .frozen && !busy.contains(pairs[$0].foundation) }
        return frozen.max(by: { pairs[$0].priority < pairs[$1].priority })
    }

    /// The highest-priority valid pair.
    var bestValid: Int? {
        pairs.indices.filter { pairs[$0].isValid }.max(by: { pairs[$0].priority < pairs[$1].priority })
    }
}
