import Foundation
import Testing

/// The same `.mjr` recordings through Debian's janus-pp-rec and through flowrec: durations within
/// one frame, frame counts equal (1% allowed).
@Suite struct JanusPpRecComparisonTests {
    static let toolsPresent = Tool.exists("janus-pp-rec") && Tool.exists("ffprobe")

    @Test(.enabled(if: toolsPresent), arguments: ["vp8", "vp9"])
    func sameFramesAndDurationAsJanusPpRec(codec: String) throws {
        let dir = try Tool.temporaryFolder("pprec\(codec)")
        let room = dir + "/room"
        let synth = try Tool.flowrec("synth", "--participants", "2", "--seconds", "8s", "--format", "mjr", "--out", room,
                                     "--codec", codec, "--join", "1@1500ms", "--reorder", "0.02", "--duplicate", "0.01")
        try #require(synth.status == 0, "\(synth.stderr)")
        let ours = try Tool.flowrec("transcode", room, "--tracks", "--out", dir + "/flowrec")
        try #require(ours.status == 0, "\(ours.stderr)")

        let recordings = try FileManager.default.contentsOfDirectory(atPath: room).filter { $0.hasSuffix(".mjr") }.sorted()
        #expect(recordings.count == 4)
        for recording in recordings {
            let isAudio = recording.contains("-audio-")
            let user = recording.split(separator: "-")[3]
            let reference = dir + "/" + recording + (isAudio ? ".opus" : ".webm")
            let pp = try Tool.run("janus-pp-rec", [room + "/" + recording, reference])
            try #require(pp.status == 0, "janus-pp-rec \(recording): \(pp.stderr)")
            let theirs = try Probe(reference)
            let mine = try Probe(dir + "/flowrec/\(user).webm")
            let theirStream = try #require(theirs.streams.first)
            let myStream = try #require(isAudio ? mine.audio : mine.video)
            let theirFrames = try #require(theirStream.frames)
            let myFrames = try #require(myStream.frames)
            #expect(abs(Double(myFrames - theirFrames)) <= max(1, Double(theirFrames) * 0.01),
                    "\(recording): flowrec \(myFrames) frames, janus-pp-rec \(theirFrames)")
            // Duration of this stream in our file vs janus-pp-rec's file, within one frame.
            let frame = isAudio ? 0.020 : 1.0 / 30
            let myDuration = try streamSpan(dir + "/flowrec/\(user).webm", stream: isAudio ? "a:0" : "v:0")
            let theirDuration = try streamSpan(reference, stream: "0")
            #expect(abs(myDuration - theirDuration) <= frame + 0.001,
                    "\(recording): flowrec \(myDuration)s, janus-pp-rec \(theirDuration)s")
        }
    }

    /// Last packet's end minus first packet's start of one stream, from packet timestamps.
    private func streamSpan(_ path: String, stream: String) throws -> Double {
        let result = try Tool.run("ffprobe", ["-v", "error", "-select_streams", stream, "-show_entries", "packet=pts_time,duration_time",
                                              "-of", "csv=p=0", path])
        let rows = result.stdout.split(separator: "\n").map { $0.split(separator: ",").compactMap { Double($0) } }.filter { !$0.isEmpty }
        guard let first = rows.map({ $0[0] }).min(), let lastRow = rows.max(by: { $0[0] < $1[0] }) else { return 0 }
        return lastRow[0] + (lastRow.count > 1 ? lastRow[1] : 0) - first
    }
}
