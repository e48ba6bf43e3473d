public import Engine
internal import Foundation
public import Logging
public import Manifest

/// Carries out a plan. Everything that could refuse is checked before anything changes, so a failed apply
/// leaves the device as it was.
public struct ApplyExecutor: Sendable {
    public var state: StateDirectory
    public var supervisor: WorkerSupervisor
    public var logger: Logger
    /// Builds the command line of a worker for a model.
    public var launch: @Sendable (ResolvedModel) -> WorkerSupervisor.Launch

    public init(
        state: StateDirectory, supervisor: WorkerSupervisor, logger: Logger,
        launch: @escaping @Sendable (ResolvedModel) -> WorkerSupervisor.Launch
    ) {
        self.state = state
        self.supervisor = supervisor
        self.logger = logger
        self.launch = launch
    }

    /// Reasons this build cannot apply the manifest at all; empty when it can.
    public static func unsupported(_ desired: ResolvedManifest, plan: Plan) -> [String] {
        var reasons = plan.problems
        for model in desired.models {
            switch (model.engine, model.source) {
            case (.llamacpp, .local): break
            case (.rkllm, .local):
                // The library is checked here, from its bytes, so a wrong or missing runtime fails the apply
                // before anything changes; only workers ever load it.
                do {
                    _ = try RKLLMLibraryFile.inspect(
                        path: desired.runtimes.rkllmLibrary ?? RKLLMEngine.Configuration.defaultLibraryPath,
                        requested: RKLLMRuntimeABI(desired.runtimes.rkllmABI))
                } catch {
                    reasons.append("model \(model.name): \(error.message)")
                }
            case (.llamacpp, _):
                reasons.append("model \(model.name): Hugging Face downloads are not implemented yet (issue #6); use source.path")
            default: reasons.append("model \(model.name): engine \(model.engine.rawValue) is not implemented yet")
            }
        }
        return reasons
    }

    /// Stops workers a previous supervisor left running, starts one worker per model (each builds its prompt
    /// caches before it reports healthy), then records the manifest as applied.
    public func apply(_ desired: ResolvedManifest, observed: ObservedState) async throws {
        for (model, record) in observed.runningWorkers {
            logger.info("stopping a worker left by an earlier run", metadata: ["model": "\(model)", "pid": "\(record.pid)"])
            kill(record.pid, SIGTERM)
        }
        for model in desired.models {
            do {
                try await supervisor.start(launch(model))
            } catch {
                await supervisor.stopAll()
                throw error
            }
        }
        try AtomicFile.write(json: desired, to: state.appliedManifest)
    }
}

extension RKLLMRuntimeABI {
    /// The manifest's `runtimes.rkllm.abi`; nil for `auto`: read it from the library.
    public init?(_ abi: RKLLMABI) {
        switch abi {
        case .auto: return nil
        case .v1Dot2: self = .v1_2
        case .v1Dot3: self = .v1_3
        }
    }
}
