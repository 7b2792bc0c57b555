import Foundation
import Ingest
import Pipeline

/// What a batch run is asked to do.
public struct BatchSettings: Sendable {
    public var outDir: String
    public var pipeline: PipelineConfig
    public var options: IngestOptions
    /// Make every group again, replacing its files.
    public var force: Bool
    /// Groups transcoded at once.
    public var jobs: Int

    public init(outDir: String, pipeline: PipelineConfig, options: IngestOptions = IngestOptions(), force: Bool = false, jobs: Int = 1) {
        self.outDir = outDir
        self.pipeline = pipeline
        self.options = options
        self.force = force
        self.jobs = jobs
    }
}

/// `flowrec transcode --batch DIR... --out OUTDIR [-j N]`: finds every capture file below the
/// folders (``discover(_:)``), groups them by room and session (``BatchGrouping``), then
/// ``run(groups:settings:progress:transcode:)`` runs ``TranscodeJob`` once per group, skipping
/// groups already done (``isComplete(_:settings:)``), and reports one ``BatchProgress`` for the
/// batch and a ``BatchGroupResult`` per group (counted by ``BatchSummary``).
public enum BatchTranscodeJob {
    /// Runs one group's transcode: inputs, where, overwrite, progress.
    public typealias Transcoder = @Sendable ([String], OutputLocation, Bool, @escaping @Sendable (JobProgress) -> Void) throws -> TranscodeResult

    /// Transcodes `groups`, up to `settings.jobs` at once, each with ``TranscodeJob/run`` on a
    /// thread of its own; a failed group does not stop the others. Results are in group order.
    /// `progress` is called from the workers, one call at a time.
    public static func run(groups: [BatchGroup], settings: BatchSettings, progress: (@Sendable (BatchProgress) -> Void)? = nil,
                           transcode: Transcoder? = nil) -> [BatchGroupResult] {
        let pipeline = settings.pipeline
        let options = settings.options
        let transcode = transcode ?? { inputs, out, overwrite, report in
            try TranscodeJob.run(inputs: inputs, out: out, pipeline: pipeline, options: options, overwrite: overwrite, progress: report)
        }
        let tracker = BatchTracker(groups: groups, sink: progress)
        WorkerPool.run(count: groups.count, width: settings.jobs, name: "flowrec-batch") { i in
            tracker.end(i, process(groups[i], index: i, settings: settings, tracker: tracker, transcode: transcode))
        }
        return tracker.results()
    }

    /// One group: skipped when done (unless forced), else transcoded, replacing what it wrote before.
    private static func process(_ group: BatchGroup, index: Int, settings: BatchSettings, tracker: BatchTracker,
                                transcode: Transcoder) -> BatchGroupResult {
        if !settings.force && isComplete(group, settings: settings) { return BatchGroupResult(group: group, outcome: .skipped) }
        do {
            // What exists of an incomplete or outdated group is this batch's own earlier output: replaced.
            let result = try transcode(group.inputs, group.location(outDir: settings.outDir), true) { tracker.update(index, $0) }
            return BatchGroupResult(group: group, outcome: .done, outputs: result.outputs, warnings: result.warnings)
        } catch {
            return BatchGroupResult(group: group, outcome: .failed(error))
        }
    }
}
