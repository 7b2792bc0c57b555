/// Picks the active speaker from per-participant audio levels, with hysteresis so the view does not
/// flicker.
///
/// Rules, applied to each block of levels:
/// - Levels at or below `silenceDBFS` (and participants missing from `levels`) count as silent.
/// - Before anyone has spoken the result is nil; the first participant above silence becomes the
///   speaker at once (the loudest; ties go to the smallest key, so results are deterministic).
/// - A challenger takes over only after being louder than the current speaker by at least `marginDB`
///   (a silent current speaker counts as −∞) for `switchAfterMillis`: from the first block where it
///   qualified to a block at least that much later. Dips shorter than `gapToleranceMillis` (breaths
///   between words) do not restart its run; a longer dip does.
/// - When several challengers have held long enough, the loudest wins (ties: smallest key).
/// - Silence (nobody above `silenceDBFS`) keeps the current speaker.
public struct ActiveSpeakerDetector: Sendable {
    public let switchAfterMillis: Int64
    public let marginDB: Double
    public let silenceDBFS: Double
    public let gapToleranceMillis: Int64

    /// The current speaker (nil until anyone speaks).
    public private(set) var current: String?
    /// Challenger key → (start of its qualifying run, last block in which it qualified).
    private var runs: [String: (since: Int64, last: Int64)] = [:]

    public init(switchAfterMillis: Int64 = 1500, marginDB: Double = 6, silenceDBFS: Double = -50,
                gapToleranceMillis: Int64 = 300) {
        self.switchAfterMillis = switchAfterMillis
        self.marginDB = marginDB
        self.silenceDBFS = silenceDBFS
        self.gapToleranceMillis = gapToleranceMillis
    }

    /// levels: participant key → level in dBFS for the block ending at `atMillis` (times must not go
    /// backwards). Returns the active participant key (nil until anyone speaks).
    public mutating func update(levels: [String: Double], atMillis: Int64) -> String? {
        guard let speaker = current else {
            let silence = silenceDBFS
            current = Self.loudest(in: levels, where: { _, level in level > silence })
            return current
        }
        let currentLevel = levels[speaker].flatMap { $0 > silenceDBFS ? $0 : nil } ?? -.infinity
        let threshold = max(silenceDBFS, currentLevel + marginDB)

        // Extend or start the runs of challengers that qualify in this block.
        for (key, level) in levels where key != speaker && level > silenceDBFS && level >= threshold {
            if let run = runs[key], atMillis - run.last <= gapToleranceMillis {
                runs[key] = (run.since, atMillis)
            } else {
                runs[key] = (atMillis, atMillis)
            }
        }
        // Drop runs whose dip has lasted too long.
        let tolerance = gapToleranceMillis
        if runs.values.contains(where: { atMillis - $0.last > tolerance }) {
            runs = runs.filter { atMillis - $0.value.last <= tolerance }
        }
        // Among challengers qualifying now and held long enough, switch to the loudest.
        let hold = switchAfterMillis, snapshot = runs
        let ready = Self.loudest(in: levels, where: { key, _ in
            guard key != speaker, let run = snapshot[key] else { return false }
            return run.last == atMillis && atMillis - run.since >= hold
        })
        if let ready {
            current = ready
            runs.removeAll(keepingCapacity: true)
        }
        return current
    }

    /// The loudest key among those accepted by `filter`; ties go to the smallest key.
    private static func loudest(in levels: [String: Double],
                                where filter: (String, Double) -> Bool) -> String? {
        var best: (key: String, level: Double)?
        for (key, level) in levels where filter(key, level) {
            if let b = best, level < b.level || (level == b.level && key > b.key) { continue }
            best = (key, level)
        }
        return best?.key
    }
}
