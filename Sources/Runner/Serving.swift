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
    var readinessTimeout: Int

    func run() async throws {
        let directory = state.stateDirectory
        let source = try manifestSource(directory)
        let lock: StateLock
        do {
            lock = try StateLock(state: directory)
        } catch {
            Console.error("error: \(error)")
            throw ExitCode.failure
        }
        let logger = Logger(label: "runner")
        let supervisor = WorkerSupervisor(
            state: directory, logger: logger, readinessTimeout: .seconds(readinessTimeout),
            health: HealthPolicy(interval: .seconds(option: options.healthInterval)))
        let servers = EndpointServers(
            supervisor: supervisor, drainTimeout: .seconds(option: options.drainTimeout), logger: logger)
        let deployment = LiveDeployment(
            state: directory, supervisor: supervisor, executable: RunnerExecutable.path, clocks: state.clockPinning,
            logger: logger
        ) { await servers.follow($0) }
        let selection = state
        let follower = ManifestFollower(source: source, deployment: deployment, state: directory, logger: logger) { manifest in
            do {
                return try selectionRefusal(manifest, options: selection)
            } catch {
                return "\(error)"
            }
        }
        guard try await start(follower, source: source, directory: directory) else {
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

    /// The file, or the git repository named by --git or by the file's `source.git`.
    func manifestSource(_ directory: StateDirectory) throws -> any ManifestSource {
        if let url = options.git {
            return GitManifestSource(
                url: url, branch: options.branch, path: options.path ?? "",
                pollInterval: .seconds(option: options.fetchInterval ?? 60), state: directory)
        }
        let file = file ?? ""
        let (_, resolved) = try loadManifestOrExit(file)
        guard let git = resolved.git else { return ManifestFile(path: file, pollInterval: .seconds(option: options.interval)) }
        var source = GitManifestSource(git, state: directory)
        if let fetchInterval = options.fetchInterval { source.pollInterval = .seconds(option: fetchInterval) }
        return source
    }

    /// The first version: applied, or (for git, when it cannot be fetched or is bad) the last applied one from
    /// the same repository. False when there is nothing to run and the command should fail.
    func start(_ follower: ManifestFollower, source: any ManifestSource, directory: StateDirectory) async throws -> Bool {
        switch await follower.poll(force: true) {
        case .applied(let outcome):
            let manifest = outcome.running
            let listening = manifest.endpoints.map { "\($0.name) on \($0.listen.text)" }.joined(separator: ", ")
            let workers = "\(manifest.models.count) worker\(manifest.models.count == 1 ? "" : "s")"
            Console.out("applied '\(manifest.name)': \(workers) running; serving \(listening)")
            for (model, failure) in outcome.failures.sorted(by: { $0.key < $1.key }) {
                Console.error("error: model \(model) is not running: \(failure)")
            }
        case .rejected(let rejection) where rejection.reason == .notSelected:
            Console.out("\(rejection.diagnostics.first ?? "not selected"); nothing runs until a version selects it")
        case .unchanged:
            break
        case .rejected, .unreadable:
            let recorded = AppliedSource.read(from: directory)
            let wanted = source.record
            guard wanted.kind == .git, let recorded, recorded.kind == .git, recorded.url == wanted.url,
                recorded.branch == wanted.branch, recorded.path == wanted.path,
                let applied = try? StateObserver(state: directory, hub: HubCacheLayout(hub: directory.hubCache()))
                    .readAppliedManifest()
            else {
                Console.error("\(wanted.url ?? wanted.path): nothing was applied")
                return false
            }
            do {
                try await follower.resume(applied, recorded: recorded)
            } catch {
                Console.error("error: \(error)")
                return false
            }
            Console.out("serving '\(applied.name)' as last applied (\(recorded.commit.map { "commit \($0.prefix(12))" } ?? ""))")
        }
        let every = "every \(source.pollInterval)"
        let watched = source.record.url.map {
            "following \($0) (branch \(source.record.branch ?? ""), \(source.record.path)) \(every)"
        }
        Console.out(watched ?? "watching \(source.record.path) \(every)")
        return true
    }
}
