internal import Foundation
internal import Logging

/// An exclusive `flock` on `.locks/models--ORG--NAME/<etag>.lock`, the lock `huggingface_hub` takes around
/// the same blob: a runner and a Python process sharing the cache never write one blob at once. The kernel
/// drops it if the process dies.
final class HubFileLock: Sendable {
    private let descriptor: Int32

    private init(descriptor: Int32) { self.descriptor = descriptor }

    /// Waits (polling, so the wait is cancellable and never blocks a thread) until the lock is free.
    static func acquire(_ path: URL, logger: Logger) async throws -> HubFileLock {
        do {
            try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw HubError(.cacheWrite, "cannot create \(path.deletingLastPathComponent().path): \(error)")
        }
        // Group-writable like huggingface_hub's, so users sharing a cache can wait on each other's locks.
        let descriptor = open(path.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o664)
        guard descriptor >= 0 else { throw posixError("open", path) }
        let started = ContinuousClock.now
        var reported = started
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK else {
                close(descriptor)
                throw posixError("lock", path)
            }
            if ContinuousClock.now - reported >= .seconds(10) {
                reported = .now
                logger.info(
                    "waiting for another download of the same file", metadata: ["lock": "\(path.path)"])
            }
            do {
                try await Task.sleep(for: .milliseconds(200))
            } catch {
                close(descriptor)
                throw error
            }
        }
        return HubFileLock(descriptor: descriptor)
    }

    deinit { close(descriptor) }
}
