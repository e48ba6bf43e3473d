public import Foundation

/// Writes that never leave a half-written file at the destination: temp file in the same directory, then rename.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        do {
            try data.write(to: temporary)
            guard rename(temporary.path, url.path) == 0 else {
                throw ReconcilerError(
                    .stateWrite, "cannot move \(temporary.path) to \(url.path): \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    public static func write(json value: some Encodable, to url: URL) throws {
        try write(try JSONEncoder.state.encode(value), to: url)
    }
}
