import ArgumentParser
import Foundation
import Gateway
import Hummingbird
import Logging
import Manifest
import Reconciler
import ServiceLifecycle
import UnixSignals

extension RunnerCommand {
    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make this device match the manifest, then keep it that way until stopped (SIGTERM/SIGINT).")

        @Argument(help: "The manifest.")
        var file: String

        @OptionGroup var state: StateOptions

        @OptionGroup var loading: LoadOptions

        @Flag(help: "Keep reconciling after the apply, as `runner serve FILE` does (its options apply).")
        var watch = false

        @OptionGroup var watching: WatchOptions

        func run() async throws {
            if watch {
                return try await Serving(file: file, options: watching, state: state, loading: loading).run()
            }
            let (_, resolved) = try loadManifestOrExit(file)
            guard try deviceIsSelected(resolved, options: state) else { return }
            let directory = state.stateDirectory
            let lock: StateLock
            let observed: ObservedState
            do {
                lock = try StateLock(state: directory)
                observed = try state.observer.observe(
                    desired: resolved)
            } catch {
                Console.error("error: \(error)")
                throw ExitCode.failure
            }
            let plan = Planner.plan(desired: resolved, observed: observed)
            Console.out(PlanText.render(plan, stateDirectory: directory.root.path))
            let refusals = ApplyExecutor.unsupported(resolved, plan: plan)
            guard refusals.isEmpty else {
                for reason in refusals { Console.error("error: \(reason)") }
                Console.error("nothing was changed")
                throw ExitCode.failure
            }

            let logger = Logger(label: "runner")
            let supervisor = WorkerSupervisor(state: directory, logger: logger, readinessTimeout: loading.readiness)
            let manifestPath = URL(fileURLWithPath: file).standardizedFileURL.path
            var executor = ApplyExecutor(
                state: directory, supervisor: supervisor, logger: logger, loadTimeout: loading.requestWait
            ) { model in
                WorkerSupervisor.Launch(
                    model: model.name, executable: RunnerExecutable.path,
                    arguments: ["worker", "--model", model.name, "--manifest", manifestPath, "--state-dir", directory.root.path],
                    restart: model.lifecycle.restart)
            }
            executor.clocks = state.clockPinning
            let bar = DownloadProgressBar.forTerminal()
            if let bar {
                executor.downloadProgress = { bar.draw(model: $0, $1) }
                // The bar shows the progress; periodic log lines would break it up.
                executor.downloader.logInterval = nil
            }
            let failures: [String: String]
            do {
                failures = try await executor.apply(resolved, observed: observed)
            } catch {
                bar?.endLine()
                Console.error("error: \(error)")
                throw ExitCode.failure
            }
            let gateways: [any Service]
            do {
                gateways = try await GatewayWiring.applications(for: resolved, scheduler: executor.scheduler, logger: logger)
            } catch {
                await supervisor.stopAll()
                Console.error("error: \(error)")
                throw ExitCode.failure
            }
            let listening = resolved.endpoints.map { "\($0.name) on \($0.listen.text)" }.joined(separator: ", ")
            Console.out("applied '\(resolved.name)': \(executor.scheduler.loadedSummary); serving \(listening)")
            // The endpoints serve anyway: the other models answer, and this one answers 503 until its
            // supervisor gets it up.
            for (model, failure) in failures.sorted(by: { $0.key < $1.key }) {
                Console.error("error: model \(model) is not running (restarting it with backoff): \(failure)")
            }
            // Services stop in reverse order: the gateways drain their streams before the workers go.
            let services: [any Service] = [SupervisorService(supervisor: supervisor)] + gateways
            var configuration = ServiceGroupConfiguration(
                services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            configuration.maximumGracefulShutdownDuration = .seconds(30)
            let group = ServiceGroup(configuration: configuration)
            try await group.run()
            withExtendedLifetime(lock) {}
        }
    }
}

extension ModelScheduler {
    /// "2 models loaded, 1 on demand", from the scheduler's books, for the line an apply ends with.
    var loadedSummary: String {
        let models = snapshot().models
        let loaded = models.filter { $0.state == "resident" || $0.state == "loading" }.count
        let waiting = models.count - loaded
        return "\(loaded) model\(loaded == 1 ? "" : "s") loaded" + (waiting > 0 ? ", \(waiting) on demand" : "")
    }
}

/// This executable's own path, so the supervisor can start workers from the same build.
enum RunnerExecutable {
    static var path: String { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path }
}
