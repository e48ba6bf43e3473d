import ArgumentParser
import Foundation
import Logging
import Manifest
import Reconciler
import ServiceLifecycle
import UnixSignals

/// `runner serve` and `runner apply --watch`: the first apply, then one service group that supervises the
/// workers, serves the endpoints and follows the manifest until SIGTERM/SIGINT.
struct Serving {
    var file: String?
    var options: WatchOptions
    var state: StateOptions
    var loading: LoadOptions

    func run() async throws {
        let directory = state.stateDirectory
        let (source, bootstrap) = try manifestSource(directory)
        let lock: StateLock
        do {
            lock = try StateLock(state: directory)
        } catch {
            Console.error("error: \(error)")
            throw ExitCode.failure
        }
        let logger = Logger(label: "runner")
        let supervisor = WorkerSupervisor(
            state: directory, logger: logger, readinessTimeout: loading.readiness,
            health: HealthPolicy(interval: .seconds(option: options.healthInterval)))
        let downloads = DownloadBoard()
        let servers = EndpointServers(
            supervisor: supervisor, drainTimeout: .seconds(option: options.drainTimeout), downloads: downloads,
            logger: logger)
        let deployment = LiveDeployment(
            state: directory, supervisor: supervisor, executable: RunnerExecutable.path, clocks: state.clockPinning,
            logger: logger, downloads: downloads, loadTimeout: loading.requestWait
        ) { await servers.follow($0) }
        await servers.use(deployment.scheduler)
        let selection = state
        let follower = ManifestFollower(source: source, deployment: deployment, state: directory, logger: logger) { manifest in
            do {
                return try selectionRefusal(manifest, options: selection)
            } catch {
                return "\(error)"
            }
        }
        guard
            try await start(
                follower, source: source, bootstrap: bootstrap, directory: directory, scheduler: deployment.scheduler)
        else {
            await supervisor.stopAll()
            throw ExitCode.failure
        }

        // Stopped in reverse order: the watch loop first, then the endpoints drain, then the workers go.
        let services: [any Service] = [
            SupervisorService(supervisor: supervisor), servers,
            ReconcileService(follower: follower, deployment: deployment, interval: .seconds(option: options.interval)),
        ]
        var configuration = ServiceGroupConfiguration(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(option: options.drainTimeout) + .seconds(30)
        try await ServiceGroup(configuration: configuration).run()
        withExtendedLifetime(lock) {}
    }

    /// The file, or the git repository named by --git or by the file's `source.git`; then the file is the
    /// bootstrap, served only until the repository can be read.
    func manifestSource(_ directory: StateDirectory) throws -> (any ManifestSource, bootstrap: ResolvedManifest?) {
        if let url = options.git {
            let source = GitManifestSource(
                url: url, branch: options.branch, path: options.path ?? "",
                pollInterval: .seconds(option: options.fetchInterval ?? 60), state: directory)
            return (source, nil)
        }
        let file = file ?? ""
        let (_, resolved) = try loadManifestOrExit(file)
        guard let git = resolved.git else {
            return (ManifestFile(path: file, pollInterval: .seconds(option: options.interval)), nil)
        }
        var source = GitManifestSource(git, state: directory)
        if let fetchInterval = options.fetchInterval { source.pollInterval = .seconds(option: fetchInterval) }
        return (source, resolved)
    }

    /// The first version: applied, or (for git, when it cannot be fetched or is bad) the last applied one from
    /// the same repository, else the bootstrap file. False when there is nothing to run and the command should fail.
    func start(
        _ follower: ManifestFollower, source: any ManifestSource, bootstrap: ResolvedManifest?, directory: StateDirectory,
        scheduler: ModelScheduler
    ) async throws -> Bool {
        switch await follower.poll(force: true) {
        case .applied(let outcome):
            let manifest = outcome.running
            let listening = manifest.endpoints.map { "\($0.name) on \($0.listen.text)" }.joined(separator: ", ")
            Console.out("applied '\(manifest.name)': \(scheduler.loadedSummary); serving \(listening)")
            for (model, failure) in outcome.failures.sorted(by: { $0.key < $1.key }) {
                Console.error("error: model \(model) is not running: \(failure)")
            }
        case .rejected(let rejection) where rejection.reason == .notSelected:
            Console.out("\(rejection.diagnostics.first ?? "not selected"); nothing runs until a version selects it")
        case .unchanged:
            break
        case .rejected, .unreadable:
            guard try await fallBack(follower, source: source, bootstrap: bootstrap, directory: directory) else { return false }
        }
        let every = "every \(source.pollInterval)"
        let watched = source.record.url.map {
            "following \($0) (branch \(source.record.branch ?? ""), \(source.record.path)) \(every)"
        }
        Console.out(watched ?? "watching \(source.record.path) \(every)")
        return true
    }

    /// Serves the last applied version from the same repository, else the bootstrap file, while the repository
    /// cannot be read (or its newest commit is bad); the watch loop keeps trying.
    func fallBack(
        _ follower: ManifestFollower, source: any ManifestSource, bootstrap: ResolvedManifest?, directory: StateDirectory
    ) async throws -> Bool {
        let wanted = source.record
        let recorded = AppliedSource.read(from: directory)
        let applied = try? StateObserver(state: directory, hub: HubCacheLayout(hub: directory.hubCache())).readAppliedManifest()
        let manifest: ResolvedManifest
        let described: String
        if wanted.kind == .git, let recorded, let applied, recorded.kind == .git, recorded.url == wanted.url,
            recorded.branch == wanted.branch, recorded.path == wanted.path
        {
            manifest = applied
            described = "the last applied manifest (\(recorded.commit.map { "commit \($0.prefix(12))" } ?? "?"))"
        } else if let bootstrap, let file {
            if let refusal = try selectionRefusal(bootstrap, options: state) {
                Console.out("\(refusal); nothing runs until a version selects it")
                return true
            }
            manifest = bootstrap
            described = file
        } else {
            Console.error("\(wanted.url ?? wanted.path): nothing was applied")
            return false
        }
        do {
            try await follower.resume(manifest, recorded: manifest == applied ? recorded : nil, described: described)
        } catch {
            Console.error("error: \(error)")
            return false
        }
        Console.out("serving \(described) ('\(manifest.name)') until \(wanted.url ?? wanted.path) can be read")
        return true
    }
}
