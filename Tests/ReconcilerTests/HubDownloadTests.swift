import Foundation
import Testing

@testable import Reconciler

/// Downloads from a fake hub on a real local port: the cache layout, redirects, errors and the token's reach.
struct HubDownloadTests {
    let sandbox = HubSandbox()
    let model = HubSandbox.model
    let adapter = HubSandbox.adapter

    @Test func downloadsIntoTheStandardCacheLayout() async throws {
        defer { sandbox.remove() }
        let hub = FakeHub(files: [model, adapter])
        let progress = Recorded<HubProgress>()
        try await hub.serve { base in
            let downloader = sandbox.downloader(base)
            let path = try await downloader.ensure(sandbox.file(model)) { progress.append($0) }
            let nested = try await downloader.ensure(sandbox.file(adapter))
            let repository = sandbox.repository(model)
            #expect(path.path == repository.appendingPathComponent("snapshots/\(model.commit)/\(model.file)").path)
            #expect(try Data(contentsOf: path) == Data(model.content))
            #expect(try Data(contentsOf: nested) == Data(adapter.content))
            // Relative links, one level deeper for a file in a folder, as huggingface_hub makes them.
            let fileManager = FileManager.default
            #expect(try fileManager.destinationOfSymbolicLink(atPath: path.path) == "../../blobs/\(model.etag)")
            #expect(try fileManager.destinationOfSymbolicLink(atPath: nested.path) == "../../../blobs/\(adapter.etag)")
            // The commit alone, no newline: huggingface_hub reads the file verbatim.
            #expect(try String(contentsOf: repository.appendingPathComponent("refs/main"), encoding: .utf8) == model.commit)
            #expect(
                sandbox.tree(model)
                    == [
                        "blobs", "blobs/\(adapter.etag)", "blobs/\(model.etag)", "refs", "refs/main", "snapshots",
                        "snapshots/\(model.commit)", "snapshots/\(model.commit)/adapters",
                        "snapshots/\(model.commit)/adapters/style.gguf", "snapshots/\(model.commit)/\(model.file)",
                    ].sorted())
            #expect(
                Array(hub.requests.map(\.path).prefix(2)) == [
                    "/acme/tiny-gguf/resolve/main/tiny.Q4_0.gguf", "/blobs/\(model.etag)",
                ])
        }
        let reports = progress.all
        #expect(reports.last == HubProgress(file: sandbox.file(model), bytes: 3_000_123, total: 3_000_123, finished: true))
        #expect(reports.contains { !$0.finished && $0.bytes > 0 && $0.bytes < 3_000_123 && $0.total == 3_000_123 })
    }

    @Test func theTokenGoesOnlyToTheEndpointsOrigin() async throws {
        defer { sandbox.remove() }
        let gated = model.gatedCopy
        let blobs = FakeHub(files: [gated])
        let hub = FakeHub(files: [gated])
        try await blobs.serve { blobBase in
            hub.blobOrigin = blobBase
            try await hub.serve { base in
                let path = try await sandbox.downloader(base, token: hub.token).ensure(sandbox.file(gated))
                #expect(try Data(contentsOf: path) == Data(gated.content))
            }
        }
        #expect(!hub.requests.isEmpty && hub.requests.allSatisfy { $0.authorization == "Bearer \(hub.token)" })
        #expect(blobs.requests.map(\.path) == ["/blobs/\(gated.etag)"])
        #expect(blobs.requests.allSatisfy { $0.authorization == nil })
    }

    @Test func aGatedRepoWithoutATokenSaysSoAndCachesNothing() async throws {
        defer { sandbox.remove() }
        let gated = model.gatedCopy
        let hub = FakeHub(files: [gated])
        try await hub.serve { base in
            let error = await #expect(throws: HubError.self) { try await sandbox.downloader(base).ensure(sandbox.file(gated)) }
            #expect(error?.code == .needsToken)
            #expect(error?.message.contains("needs a token: set HF_TOKEN") == true)
            let refused = await #expect(throws: HubError.self) {
                try await sandbox.downloader(base, token: "hf_wrong").ensure(sandbox.file(gated))
            }
            #expect(refused?.message.contains("token was refused") == true)
        }
        #expect(sandbox.tree(gated).isEmpty)
        #expect(hub.requests.count == 2)
    }

    @Test func missingRepoRevisionAndFileAreNamed() async throws {
        defer { sandbox.remove() }
        let hub = FakeHub(files: [model])
        try await hub.serve { base in
            let downloader = sandbox.downloader(base)
            let cases: [(HubFile, String)] = [
                (HubFile(repo: "acme/tiny-gguf", file: "nope.gguf"), "no file nope.gguf in repo acme/tiny-gguf at revision main"),
                (HubFile(repo: "acme/other", file: "tiny.gguf"), "no repo acme/other on the hub"),
                (
                    HubFile(repo: "acme/tiny-gguf", file: "tiny.Q4_0.gguf", revision: "v9"),
                    "no revision v9 in repo acme/tiny-gguf"
                ),
            ]
            for (file, message) in cases {
                let error = await #expect(throws: HubError.self) { try await downloader.ensure(file) }
                #expect(error?.code == .notFound)
                #expect(error?.message == message)
            }
        }
        // Not found is an answer, not a glitch: one request each, no retries.
        #expect(hub.requests.count == 3)
        #expect(sandbox.tree(model).isEmpty)
    }

    @Test func namesThatWouldLeaveTheCacheAreRefused() async throws {
        let downloader = sandbox.downloader("http://127.0.0.1:9")
        for file in [
            HubFile(repo: "acme/x", file: "../../escape.gguf"), HubFile(repo: "acme/../x", file: "a.gguf"),
            HubFile(repo: "acme/x", file: "/etc/passwd"), HubFile(repo: "acme/x", file: "a.gguf", revision: "../main"),
        ] {
            let error = await #expect(throws: HubError.self) { try await downloader.ensure(file) }
            #expect(error?.code == .badSource)
        }
    }

    @Test func anUnreachableHubIsANetworkErrorAfterRetries() async throws {
        defer { sandbox.remove() }
        // Port 9 (discard) on the loopback refuses connections.
        let downloader = {
            var downloader = sandbox.downloader("http://127.0.0.1:9")
            downloader.connectTimeout = .milliseconds(500)
            return downloader
        }()
        let started = ContinuousClock.now
        let error = await #expect(throws: HubError.self) { try await downloader.ensure(sandbox.file(model)) }
        // Three attempts, each up to the connect timeout, with short waits between them: seconds, not the
        // minutes of the default timeouts (the bound is loose because the test machine may be busy: 22 s
        // was seen on a loaded 2-core machine).
        #expect(ContinuousClock.now - started < .seconds(60))
        #expect(error?.code == .network)
        #expect(error?.message.contains("cannot fetch acme/tiny-gguf/tiny.Q4_0.gguf at main from 127.0.0.1") == true)
    }
}
