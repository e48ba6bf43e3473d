import Foundation
import TestSupport
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

        var environment = ProcessInfo.processInfo.environment
        environment["HF_HUB_OFFLINE"] = "1"
        environment["HF_HUB_DISABLE_TELEMETRY"] = "1"
        environment["HF_HOME"] = sandbox.root.appendingPathComponent("hf-home").path
        let script = try await PythonScript.run(
            Self.python,
            ["-c", Self.script, sandbox.cache.hub.path, model.repo, model.file, "main", adapter.file, model.commit],
            environment: environment)
        #expect(script.status == 0, "\(script.stderr)")

        let result = try #require(script.json, "\(script.stderr)")
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
