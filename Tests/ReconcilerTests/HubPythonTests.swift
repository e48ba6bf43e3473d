import Foundation
import Testing

@testable import Reconciler

/// The cache the runner writes, read by the official `huggingface_hub` package (installed into .deps/venv by
/// `make setup`) with no network: the same files serve both.
struct HubPythonTests {
    static let python = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".deps/venv/bin/python").path

    static let script = """
        import json, sys
        from huggingface_hub import hf_hub_download, scan_cache_dir
        cache, repo = sys.argv[1], sys.argv[2]
        info = scan_cache_dir(cache)
        out = {"warnings": [str(w) for w in info.warnings], "revisions": [], "paths": {}}
        for r in info.repos:
            for rev in r.revisions:
                files = sorted(str(f.file_path.relative_to(rev.snapshot_path)) for f in rev.files)
                out["revisions"].append({"repo": r.repo_id, "type": r.repo_type, "commit": rev.commit_hash,
                                         "refs": sorted(rev.refs), "files": files})
        for name, revision in zip(sys.argv[3::2], sys.argv[4::2]):
            out["paths"][name + "@" + revision] = hf_hub_download(
                repo, name, revision=revision, local_files_only=True, cache_dir=cache)
        print(json.dumps(out))
        """

    @Test func huggingfaceHubReadsTheCache() async throws {
        let sandbox = HubSandbox()
        defer { sandbox.remove() }
        let (model, adapter) = (HubSandbox.model, HubSandbox.adapter)
        let hub = FakeHub(files: [model, adapter])
        let paths = try await hub.serve { base in
            let downloader = sandbox.downloader(base)
            return [
                "model": try await downloader.ensure(sandbox.file(model)).path,
                "adapter": try await downloader.ensure(sandbox.file(adapter, revision: model.commit)).path,
            ]
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = [
            "-c", Self.script, sandbox.cache.hub.path, model.repo, model.file, "main", adapter.file, model.commit,
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["HF_HUB_OFFLINE"] = "1"
        environment["HF_HUB_DISABLE_TELEMETRY"] = "1"
        environment["HF_HOME"] = sandbox.root.appendingPathComponent("hf-home").path
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(stderr)")

        let result = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(stderr)")
        #expect((result["warnings"] as? [String])?.isEmpty == true, "\(result)")
        let revisions = try #require(result["revisions"] as? [[String: Any]])
        #expect(revisions.count == 1)
        #expect(revisions.first?["repo"] as? String == model.repo)
        #expect(revisions.first?["type"] as? String == "model")
        #expect(revisions.first?["commit"] as? String == model.commit)
        #expect(revisions.first?["refs"] as? [String] == ["main"])
        #expect(revisions.first?["files"] as? [String] == [adapter.file, model.file].sorted())
        let found = try #require(result["paths"] as? [String: String])
        #expect(found["\(model.file)@main"] == paths["model"])
        #expect(found["\(adapter.file)@\(model.commit)"] == paths["adapter"])
    }
}
