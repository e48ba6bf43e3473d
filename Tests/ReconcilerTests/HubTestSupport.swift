import Foundation
import Logging
import Synchronization

@testable import Reconciler

/// A temporary hub cache and a downloader pointed at a fake hub, with quick retries.
struct HubSandbox {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("hub-\(UUID().uuidString)")
    var cache: HubCacheLayout { HubCacheLayout(hub: root.appendingPathComponent("hub")) }
    var verified: VerifiedBlobs { VerifiedBlobs(directory: root.appendingPathComponent("verified")) }

    static let commit = "0123456789abcdef0123456789abcdef01234567"
    /// A 3 MB "model", big enough to arrive in several chunks.
    static let model = FakeHub.RepoFile(
        repo: "acme/tiny-gguf", file: "tiny.Q4_0.gguf", commit: commit, content: FakeHub.RepoFile.payload(3_000_123, seed: 7))
    static let adapter = FakeHub.RepoFile(
        repo: "acme/tiny-gguf", file: "adapters/style.gguf", commit: commit, content: FakeHub.RepoFile.payload(200_001, seed: 9))

    func downloader(_ endpoint: String, token: String? = nil) -> HubDownloader {
        HubDownloader(
            cache: cache, settings: HubSettings(endpoint: endpoint, token: token.map(HubToken.init)), verified: verified,
            retry: .init(attempts: 3, backoff: .milliseconds(20)), logger: Logger(label: "hub-test"))
    }

    func file(_ file: FakeHub.RepoFile, revision: String = "main", sha256: String? = nil) -> HubFile {
        HubFile(repo: file.repo, file: file.file, revision: revision, sha256: sha256)
    }

    func repository(_ file: FakeHub.RepoFile) -> URL { cache.repository(file.repo) }

    /// Every path under the repository's folder, relative to it, sorted.
    func tree(_ file: FakeHub.RepoFile) -> [String] {
        let base = repository(file)
        let enumerator = FileManager.default.enumerator(atPath: base.path)
        return (enumerator?.allObjects as? [String] ?? []).sorted()
    }

    func remove() { try? FileManager.default.removeItem(at: root) }
}

extension FakeHub.RepoFile {
    var gatedCopy: Self {
        var copy = self
        copy.gated = true
        return copy
    }
}

/// Collects what `@Sendable` callbacks report (progress, launched workers).
final class Recorded<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])

    var all: [Element] { items.withLock { $0 } }

    func append(_ item: Element) { items.withLock { $0.append(item) } }
}
