internal import Foundation

/// Applies defaults, derives names, and checks everything a schema alone cannot: cross-references,
/// engine-specific limits, files that must exist. Works on the decoded manifest plus the node positions.
struct ManifestResolver {
    struct Finding {
        var severity: Diagnostic.Severity
        var path: ManifestPath
        var line: Int
        var column: Int
        var message: String
    }

    let manifest: Manifest
    let marks: [ManifestPath: (line: Int, column: Int)]
    let baseDirectory: String
    let environment: ManifestLoader.Environment
    /// Paths whose values failed to decode and hold placeholders.
    let poisonedPaths: [ManifestPath]
    private(set) var findings: [Finding] = []

    init(
        manifest: Manifest, marks: [ManifestPath: (line: Int, column: Int)], poisonedPaths: [ManifestPath], baseDirectory: String,
        environment: ManifestLoader.Environment
    ) {
        self.manifest = manifest
        self.poisonedPaths = poisonedPaths
        self.marks = marks
        self.baseDirectory = baseDirectory
        self.environment = environment
    }

    static let defaultEndpoint = ResolvedEndpoint(
        name: "default", listen: .tcp(host: "127.0.0.1", port: 8080), apis: [.openai, .ollama], models: [],
        tokensFile: nil, corsOrigins: [], maxBodyBytes: defaultMaxBodyBytes)
    static let defaultMaxBodyBytes = 32 << 20

    // MARK: Reporting

    /// The position of `path`, or of the nearest enclosing node that is in the file.
    func position(of path: ManifestPath) -> (line: Int, column: Int) {
        var current: ManifestPath? = path
        while let candidate = current {
            if let mark = marks[candidate] { return mark }
            current = candidate.parent
        }
        return (1, 1)
    }

    mutating func error(_ path: ManifestPath, _ message: String) { report(.error, path, message) }
    mutating func warning(_ path: ManifestPath, _ message: String) { report(.warning, path, message) }

    func poisoned(_ path: ManifestPath) -> Bool { poisonedPaths.contains { path.isWithin($0) } }

    /// Findings about a placeholder would only repeat its decoding error, so they are dropped.
    private mutating func report(_ severity: Diagnostic.Severity, _ path: ManifestPath, _ message: String) {
        guard !poisoned(path) else { return }
        let (line, column) = position(of: path)
        findings.append(Finding(severity: severity, path: path, line: line, column: column, message: message))
    }

    func absolute(_ path: String) -> String {
        let joined = path.hasPrefix("/") ? path : (baseDirectory as NSString).appendingPathComponent(path)
        return (joined as NSString).standardizingPath
    }

    // MARK: Resolution

    mutating func resolve() -> ResolvedManifest {
        let root = ManifestPath.root
        if manifest.apiVersion != Manifest.currentAPIVersion {
            error(
                root.appending("apiVersion"),
                "unsupported apiVersion '\(manifest.apiVersion)', expected \(Manifest.currentAPIVersion)")
        }
        if manifest.metadata.name.trimmingCharacters(in: .whitespaces).isEmpty {
            error(root.appending("metadata").appending("name"), "metadata.name must not be empty")
        }
        let soc = manifest.device?.soc ?? .auto
        var models: [ResolvedModel] = []
        for (index, model) in manifest.models.enumerated() {
            models.append(resolveModel(model, at: root.appending("models").appending(index), soc: soc))
        }
        if manifest.models.isEmpty { error(root.appending("models"), "declare at least one model") }
        assignNPUDomains(&models)
        checkNameCollisions(models)
        let endpoints = resolveEndpoints(models: models)
        checkSelector()
        return ResolvedManifest(
            name: manifest.metadata.name, labels: manifest.metadata.labels ?? [:], selector: manifest.selector,
            soc: soc, clocks: manifest.device?.clocks ?? .untouched,
            runtimes: ResolvedRuntimes(
                rkllmLibrary: manifest.runtimes?.rkllm?.library.map(absolute), rkllmABI: manifest.runtimes?.rkllm?.abi ?? .auto,
                llamaLibrary: manifest.runtimes?.llamacpp?.library.map(absolute),
                axllmBinary: manifest.runtimes?.axllm?.binary.map(absolute),
                rknnLibrary: manifest.runtimes?.rknn?.library.map(absolute)),
            models: models, endpoints: endpoints, git: resolveGit(), memory: resolveMemory())
    }

    private mutating func resolveMemory() -> ResolvedMemory {
        guard let memory = manifest.device?.memory else { return ResolvedMemory() }
        let path = ManifestPath.root.appending("device").appending("memory")
        if let budget = memory.budget, budget.bytes == 0 {
            error(path.appending("budget"), "budget must be above 0; leave it out to derive it from the machine's memory")
        }
        if memory.budget != nil, memory.reserve != nil {
            error(
                path.appending("reserve"),
                "reserve applies only when the budget is derived from the machine; give budget or reserve, not both")
        }
        return ResolvedMemory(budget: memory.budget?.bytes, reserve: memory.reserve?.bytes)
    }

    /// rkllm models without an explicit NPU domain get the lowest free one, in declaration order: two large
    /// models in one IOMMU domain fail to load together (the runtime's `base_domain_id`).
    private mutating func assignNPUDomains(_ models: inout [ResolvedModel]) {
        var owners: [Int: String] = [:]
        for (index, model) in manifest.models.enumerated() where models[index].npu != nil {
            guard let domain = model.npu?.domain else { continue }
            if let owner = owners[domain] {
                let path = ManifestPath.root.appending("models").appending(index).appending("npu").appending("domain")
                warning(
                    path,
                    "NPU domain \(domain) is also given to model '\(owner)'; large models in one domain can fail to load together"
                )
            }
            owners[domain] = owners[domain] ?? models[index].name
        }
        let explicit = Set(owners.keys)
        var next = 0
        for index in models.indices where models[index].npu != nil && manifest.models[index].npu?.domain == nil {
            // The RKNN runtime puts a vision encoder in domain 0 and cannot be told otherwise: a vision
            // model's LLM goes elsewhere, as the vendor's demo does.
            if models[index].vision != nil, next == 0 { next = 1 }
            while explicit.contains(next) { next += 1 }
            models[index].npu?.domain = next
            next += 1
        }
    }

    private mutating func checkSelector() {
        let path = ManifestPath.root.appending("selector")
        guard let selector = manifest.selector else { return }
        if (selector.hostnames ?? []).isEmpty && (selector.labels ?? [:]).isEmpty {
            error(path, "selector must list hostnames or labels (or be left out to select every device)")
        }
        for (index, hostname) in (selector.hostnames ?? []).enumerated() where hostname.isEmpty {
            error(path.appending("hostnames").appending(index), "a host name pattern must not be empty")
        }
    }

    private mutating func resolveGit() -> ResolvedGitSource? {
        guard let git = manifest.source?.git else { return nil }
        let path = ManifestPath.root.appending("source").appending("git")
        if git.url.isEmpty { error(path.appending("url"), "git url must not be empty") }
        if git.path.hasPrefix("/") || git.path.isEmpty {
            error(path.appending("path"), "path must be the manifest's path inside the repository, e.g. fleet/opi5.yaml")
        }
        let interval = git.interval ?? .seconds(60)
        if interval < .seconds(1) { error(path.appending("interval"), "interval must be at least 1s") }
        return ResolvedGitSource(url: git.url, branch: git.branch ?? "main", path: git.path, interval: interval)
    }
}
