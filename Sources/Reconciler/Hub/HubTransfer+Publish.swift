internal import Foundation
internal import Logging

/// The cache side of a transfer: claiming a blob (its lock and partial file), linking one that is already
/// there, and publishing a finished one.
extension HubTransfer {
    /// The lock and the partial file of a blob this attempt is downloading.
    struct Claim {
        var lock: HubFileLock
        var partial: PartialBlob
    }

    enum Start {
        case cached(URL)
        case claimed(Claim)
    }

    /// Links a blob that is already there (another revision's, or another process's that finished while this
    /// one waited for the lock); otherwise takes the lock and opens the partial file.
    func begin(_ metadata: HubMetadata) async throws -> Start {
        if let snapshot = try await linkIfPresent(metadata) { return .cached(snapshot) }
        let lock = try await HubFileLock.acquire(cache.lock(repo: file.repo, etag: metadata.etag), logger: downloader.logger)
        if let snapshot = try await linkIfPresent(metadata) { return .cached(snapshot) }
        let blobs = cache.blob(repo: file.repo, etag: metadata.etag).deletingLastPathComponent()
        // Hashed only when a Range request is about to resume it, since a 200 would throw the bytes away.
        return .claimed(Claim(lock: lock, partial: try PartialBlob.open(blobs: blobs, etag: metadata.etag)))
    }

    func linkIfPresent(_ metadata: HubMetadata) async throws -> URL? {
        let blob = cache.blob(repo: file.repo, etag: metadata.etag)
        guard FileManager.default.fileExists(atPath: blob.path), try await downloader.isAcceptable(blob, file) else { return nil }
        return try link(metadata)
    }

    func link(_ metadata: HubMetadata) throws -> URL {
        let snapshot = try cache.linkSnapshot(repo: file.repo, commit: metadata.commit, file: file.file, etag: metadata.etag)
        if file.revision != metadata.commit {
            try cache.writeRef(repo: file.repo, revision: file.revision, commit: metadata.commit)
        }
        return snapshot
    }

    /// Checks the sha256, then moves the blob into place, links the snapshot and writes the ref, in that order,
    /// so a reader following the ref always finds the whole file.
    func publish(_ metadata: HubMetadata, claim: Claim, meter: ProgressMeter) async throws -> URL {
        let partial = claim.partial
        let digest = partial.hexDigest()
        if let expected = file.sha256, digest != expected {
            partial.discard()
            throw HubError(
                .checksumMismatch,
                "sha256 mismatch for \(file): expected \(expected), got \(digest); the download was deleted and nothing was published"
            )
        }
        let blob = cache.blob(repo: file.repo, etag: metadata.etag)
        try await partial.publish(to: blob)
        downloader.verified?.mark(blob, sha256: digest)
        let snapshot = try link(metadata)
        meter.finish(partial.size)
        downloader.logger.info(
            "downloaded",
            metadata: [
                "repo": "\(file.repo)", "file": "\(file.file)", "commit": "\(metadata.commit)", "bytes": "\(partial.size)",
                "sha256": "\(digest)",
            ])
        // Held until the snapshot and the ref point at the blob.
        withExtendedLifetime(claim.lock) {}
        return snapshot
    }
}
