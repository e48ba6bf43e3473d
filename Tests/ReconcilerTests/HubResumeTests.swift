import Foundation
import Testing

@testable import Reconciler

/// Resuming, sha256 checks and not fetching what is already there.
struct HubResumeTests {
    let sandbox = HubSandbox()
    let model = HubSandbox.model

    var blobs: URL { sandbox.repository(model).appendingPathComponent("blobs") }

    func blobRequests(_ hub: FakeHub) -> [FakeHub.Seen] { hub.requests.filter { $0.path.hasPrefix("/blobs/") } }

    @Test func aDroppedConnectionResumesWithRange() async throws {
        defer { sandbox.remove() }
        let hub = FakeHub(files: [model])
        hub.dropOnce(model)
        try await hub.serve { base in
            let path = try await sandbox.downloader(base).ensure(sandbox.file(model, sha256: model.sha256))
            #expect(try Data(contentsOf: path) == Data(model.content))
        }
        let requests = blobRequests(hub)
        try #require(requests.count == 2)
        #expect(requests[0].range == nil)
        // The retry asks for the rest only, and only if the blob is still the one the partial came from.
        let range = try #require(requests[1].range)
        let offset = try #require(Int(range.dropFirst("bytes=".count).dropLast()))
        #expect(range == "bytes=\(offset)-" && offset > 0 && offset <= model.content.count / 2)
        #expect(requests[1].ifRange == model.blobETag)
        #expect(try FileManager.default.contentsOfDirectory(atPath: blobs.path) == [model.etag])
    }

    @Test func aPartialFromAnEarlierRunIsResumed() async throws {
        defer { sandbox.remove() }
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        try Data(model.content.prefix(1_000_000)).write(to: blobs.appendingPathComponent("\(model.etag).incomplete"))
        try Data(model.blobETag.utf8).write(to: blobs.appendingPathComponent("\(model.etag).incomplete.etag"))
        let hub = FakeHub(files: [model])
        try await hub.serve { base in
            let path = try await sandbox.downloader(base).ensure(sandbox.file(model, sha256: model.sha256))
            #expect(try Data(contentsOf: path) == Data(model.content))
        }
        #expect(blobRequests(hub).map(\.range) == ["bytes=1000000-"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: blobs.path) == [model.etag])
    }

    @Test func aPartialOfAnotherVersionStartsOver() async throws {
        defer { sandbox.remove() }
        // Bytes recorded under another ETag: the server answers If-Range with the whole file, which replaces them.
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        try Data(repeating: 0xEE, count: 500_000).write(to: blobs.appendingPathComponent("\(model.etag).incomplete"))
        try Data("\"cdn-old\"".utf8).write(to: blobs.appendingPathComponent("\(model.etag).incomplete.etag"))
        let hub = FakeHub(files: [model])
        try await hub.serve { base in
            let path = try await sandbox.downloader(base).ensure(sandbox.file(model, sha256: model.sha256))
            #expect(try Data(contentsOf: path) == Data(model.content))
        }
        let requests = blobRequests(hub)
        #expect(requests.map(\.range) == ["bytes=500000-"] && requests.map(\.ifRange) == ["\"cdn-old\""])
    }

    @Test func aSha256MismatchIsRefusedAndNothingIsPublished() async throws {
        defer { sandbox.remove() }
        let hub = FakeHub(files: [model])
        let wrong = String(repeating: "0", count: 64)
        try await hub.serve { base in
            let error = await #expect(throws: HubError.self) {
                try await sandbox.downloader(base).ensure(sandbox.file(model, sha256: wrong))
            }
            #expect(error?.code == .checksumMismatch)
            #expect(error?.message.contains("expected \(wrong), got \(model.sha256)") == true)
        }
        // No blob, no partial to resume, no snapshot, no ref.
        #expect(try FileManager.default.contentsOfDirectory(atPath: blobs.path).isEmpty)
        #expect(!sandbox.tree(model).contains { $0.hasPrefix("snapshots/") || $0.hasPrefix("refs/") })
        #expect(sandbox.cache.cachedFile(repo: model.repo, file: model.file, revision: "main") == nil)
    }

    @Test func aCachedFileCostsNoRequest() async throws {
        defer { sandbox.remove() }
        let hub = FakeHub(files: [model])
        try await hub.serve { base in
            let downloader = sandbox.downloader(base)
            let first = try await downloader.ensure(sandbox.file(model, sha256: model.sha256))
            let requests = hub.requests.count
            #expect(requests == 2)
            // By branch (the ref is cached), by commit, and with or without a sha256 (verified once, remembered).
            for file in [
                sandbox.file(model), sandbox.file(model, sha256: model.sha256), sandbox.file(model, revision: model.commit),
            ] {
                #expect(try await downloader.ensure(file) == first)
            }
            #expect(hub.requests.count == requests)
            #expect(sandbox.verified.isVerified(first, sha256: model.sha256))
        }
    }

    @Test func aCorruptedCachedFileIsFetchedAgainWhenSha256IsGiven() async throws {
        defer { sandbox.remove() }
        let hub = FakeHub(files: [model])
        try await hub.serve { base in
            let downloader = sandbox.downloader(base)
            let path = try await downloader.ensure(sandbox.file(model, sha256: model.sha256))
            // Same size, different bytes, written in place: the marker no longer matches the file. (The pause
            // lets the file's modification time move past the kernel's timestamp granularity.)
            try await Task.sleep(for: .milliseconds(50))
            let handle = try FileHandle(forWritingTo: path)
            try handle.seek(toOffset: 1000)
            try handle.write(contentsOf: Data(repeating: 0, count: 16))
            try handle.close()
            #expect(!sandbox.verified.isVerified(path, sha256: model.sha256))
            let again = try await downloader.ensure(sandbox.file(model, sha256: model.sha256))
            #expect(again == path)
            #expect(try Data(contentsOf: path) == Data(model.content))
            #expect(blobRequests(hub).count == 2)
        }
    }
}
