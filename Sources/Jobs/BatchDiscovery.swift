import Foundation

extension BatchTranscodeJob {
    /// Every capture file below `dirs` (recursively; hidden entries and symlinked folders are
    /// skipped), inspected for grouping. A path that is a file is taken as it is; a path named
    /// twice is taken once.
    public static func discover(_ dirs: [String]) throws -> [BatchInputFile] {
        var paths: [String] = []
        var seen = Set<String>()
        func add(_ path: String) {
            if seen.insert((path as NSString).standardizingPath).inserted { paths.append(path) }
        }
        for dir in dirs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) else {
                throw JobError("\(dir): no such file or folder")
            }
            if isDirectory.boolValue {
                try walk(droppingTrailingSlash(dir), add)
            } else {
                add(dir)
            }
        }
        return paths.map { BatchInputFile.inspect(path: $0) }
    }

    /// Calls `found` with each capture file below `folder`, in name order, depth first.
    private static func walk(_ folder: String, _ found: (String) -> Void) throws {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted() } catch {
            throw JobError("\(folder): cannot list the folder: \(error.localizedDescription)")
        }
        for name in names where !name.hasPrefix(".") {
            let path = folder == "/" ? "/" + name : folder + "/" + name
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFDIR: try walk(path, found)
            case S_IFREG, S_IFLNK:
                // A symlink counts when it points to a file (a linked folder could make a loop).
                if (st.st_mode & S_IFMT) == S_IFLNK {
                    var target = stat()
                    guard stat(path, &target) == 0, (target.st_mode & S_IFMT) == S_IFREG else { continue }
                }
                if captureFileExtensions.contains((name as NSString).pathExtension.lowercased()) { found(path) }
            default: continue
            }
        }
    }
}
