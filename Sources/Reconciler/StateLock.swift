internal import Foundation

/// One `runner apply` per state directory: an exclusive `flock` held for the life of the process (the kernel
/// releases it when the process dies, so a crash never leaves a stale lock).
public final class StateLock: Sendable {
    private let descriptor: Int32

    public init(state: StateDirectory) throws {
        try FileManager.default.createDirectory(at: state.root, withIntermediateDirectories: true)
        let path = state.root.appendingPathComponent("apply.lock").path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw ReconcilerError(.stateWrite, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            var holder = [UInt8](repeating: 0, count: 32)
            let count = read(descriptor, &holder, holder.count)
            close(descriptor)
            let pid = String(decoding: holder.prefix(max(count, 0)), as: UTF8.self).trimmingCharacters(
                in: .whitespacesAndNewlines)
            throw ReconcilerError(
                .locked, "another runner apply (pid \(pid.isEmpty ? "unknown" : pid)) manages \(state.root.path)")
        }
        ftruncate(descriptor, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// The pid written by the process that holds (or last held) the lock.
    public static func holder(of state: StateDirectory) -> Int32? {
        let path = state.root.appendingPathComponent("apply.lock").path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
