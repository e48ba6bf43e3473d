internal import Foundation

/// The paths and links of one file in the hub cache, written the way `huggingface_hub` writes them:
/// the blob first, then the snapshot's relative symlink to it, then the ref.
extension HubCacheLayout {
    func blob(repo: String, etag: String) -> URL {
        repository(repo).appendingPathComponent("blobs").appendingPathComponent(etag)
    }

    func snapshot(repo: String, commit: String, file: String) -> URL {
        repository(repo).appendingPathComponent("snapshots").appendingPathComponent(commit).appendingPathComponent(file)
    }

    func ref(repo: String, revision: String) -> URL {
        repository(repo).appendingPathComponent("refs").appendingPathComponent(revision)
    }

    /// The lock `huggingface_hub` takes for the same blob, so the two never download it at once.
    func lock(repo: String, etag: String) -> URL {
        hub.appendingPathComponent(".locks").appendingPathComponent(repository(repo).lastPathComponent)
            .appendingPathComponent("\(etag).lock")
    }

    /// Points `snapshots/<commit>/<file>` at `blobs/<etag>` with a relative link (so a moved or mounted cache
    /// keeps working), replacing whatever was there in one rename.
    func linkSnapshot(repo: String, commit: String, file: String, etag: String) throws -> URL {
        let snapshot = snapshot(repo: repo, commit: commit, file: file)
        let depth = 1 + file.split(separator: "/").count
        let target = String(repeating: "../", count: depth) + "blobs/" + etag
        let directory = snapshot.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(snapshot.lastPathComponent).\(getpid()).link")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            unlink(temporary.path)
            guard symlink(target, temporary.path) == 0 else { throw posixError("create a link at", temporary) }
            guard rename(temporary.path, snapshot.path) == 0 else { throw posixError("move a link to", snapshot) }
        } catch {
            unlink(temporary.path)
            if let error = error as? HubError { throw error }
            throw HubError(.cacheWrite, "cannot create \(directory.path): \(error)")
        }
        return snapshot
    }

    /// `refs/<revision>` holds the commit with no newline, as `huggingface_hub` reads it back verbatim.
    func writeRef(repo: String, revision: String, commit: String) throws {
        let ref = ref(repo: repo, revision: revision)
        if (try? String(contentsOf: ref, encoding: .utf8)) == commit { return }
        do {
            try AtomicFile.write(Data(commit.utf8), to: ref)
        } catch {
            throw HubError(.cacheWrite, "cannot write \(ref.path): \(error)")
        }
    }
}

func posixError(_ action: String, _ url: URL) -> HubError {
    HubError(.cacheWrite, "cannot \(action) \(url.path): \(String(cString: strerror(errno)))")
}
