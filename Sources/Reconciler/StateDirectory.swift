public import Engine
public import Foundation

/// The runner's state directory: HF cache, prompt caches, worker sockets and records, and the
/// last applied manifest. Only paths here; reading and writing live with the code that owns each file.
public struct StateDirectory: Sendable, Equatable {
    public var root: URL

    public init(root: URL) { self.root = root.standardizedFileURL }

    /// `--state-dir`, else `RUNNER_STATE_DIR`, else `/var/lib/rockchipllama` as root, else `~/.local/state/rockchipllama`.
    public static func resolve(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> StateDirectory
    {
        if let explicit { return StateDirectory(root: URL(fileURLWithPath: explicit)) }
        if let fromEnvironment = environment["RUNNER_STATE_DIR"], !fromEnvironment.isEmpty {
            return StateDirectory(root: URL(fileURLWithPath: fromEnvironment))
        }
        if getuid() == 0 { return StateDirectory(root: URL(fileURLWithPath: "/var/lib/rockchipllama")) }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return StateDirectory(root: URL(fileURLWithPath: home).appendingPathComponent(".local/state/rockchipllama"))
    }

    /// The Hugging Face hub cache: `HF_HUB_CACHE`, else `$HF_HOME/hub` when HF_HOME is set (the two variables
    /// huggingface_hub reads, so both share it), else ours.
    public func hubCache(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let hubCache = environment["HF_HUB_CACHE"], !hubCache.isEmpty { return URL(fileURLWithPath: hubCache) }
        if let hfHome = environment["HF_HOME"], !hfHome.isEmpty {
            return URL(fileURLWithPath: hfHome).appendingPathComponent("hub")
        }
        return root.appendingPathComponent("hub")
    }

    public var appliedManifest: URL { root.appendingPathComponent("applied.json") }
    public var workers: URL { root.appendingPathComponent("workers") }
    public var promptCaches: URL { root.appendingPathComponent("caches") }

    public func workerRecord(_ model: String) -> URL { workers.appendingPathComponent("\(model).json") }
    public func workerSocket(_ model: String) -> URL { workers.appendingPathComponent("\(model).sock") }
    /// One preset's files; its sidecar exists once the preset is built.
    public func promptCache(model: String, preset: String) -> PromptCachePaths {
        PromptCachePaths(directory: promptCaches.appendingPathComponent(model).path, name: preset)
    }
}

/// Where `huggingface_hub` keeps a file: `models--ORG--NAME/snapshots/<commit>/<file>`, with
/// `refs/<revision>` holding the commit a branch or tag name points at.
public struct HubCacheLayout: Sendable {
    public var hub: URL

    public init(hub: URL) { self.hub = hub }

    public func repository(_ repo: String) -> URL {
        hub.appendingPathComponent("models--" + repo.replacingOccurrences(of: "/", with: "--"))
    }

    /// The snapshot path of a file if its revision is resolved in the cache and the file is there.
    public func cachedFile(repo: String, file: String, revision: String) -> URL? {
        let repository = repository(repo)
        let commit: String
        if revision.count == 40, revision.allSatisfy(\.isHexDigit) {
            commit = revision
        } else {
            let ref = repository.appendingPathComponent("refs").appendingPathComponent(revision)
            guard let text = try? String(contentsOf: ref, encoding: .utf8) else { return nil }
            commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let snapshot = repository.appendingPathComponent("snapshots").appendingPathComponent(commit).appendingPathComponent(file)
        return FileManager.default.fileExists(atPath: snapshot.path) ? snapshot : nil
    }
}
