public import Engine
internal import Foundation
public import Logging

/// Builds a model's declared prompt-cache presets when its worker starts. A preset that cannot be built
/// never takes the model down: the failure is logged and reported (the worker's status and
/// `GET /v1/caches`), a request that names the preset is told why it is missing, and the build is tried
/// again after a growing delay until it succeeds. Requests that do not name it are served without it.
public actor PresetWarmup {
    public struct Preset: Sendable {
        public var name: String
        /// The system prompt. Reading it may fail (a prompt file that went away); that counts as a failed
        /// build like any other.
        public var text: @Sendable () throws -> String

        public init(name: String, text: @escaping @Sendable () throws -> String) {
            self.name = name
            self.text = text
        }
    }

    /// The wait before the next attempt: `first` after one failure, doubled after each further one, never
    /// more than `cap`. A cause that goes away (a full disk freed, a directory fixed) is picked up soon,
    /// while a preset that keeps failing costs one build every `cap`.
    public struct Backoff: Sendable, Equatable {
        public var first: Duration
        public var cap: Duration

        public init(first: Duration = .seconds(30), cap: Duration = .seconds(600)) {
            self.first = first
            self.cap = cap
        }

        public func delay(afterFailures failures: Int) -> Duration {
            var delay = first
            for _ in 1..<max(1, failures) where delay < cap { delay *= 2 }
            return min(delay, cap)
        }
    }

    private struct Failure {
        var attempts: Int
        var error: String
        /// nil while an attempt is running.
        var retryAt: ContinuousClock.Instant?
    }

    let engine: any Engine
    let presets: [Preset]
    let directory: String
    let backoff: Backoff
    let logger: Logger
    private var failed: [String: Failure] = [:]

    public init(engine: any Engine, presets: [Preset], directory: String, backoff: Backoff = Backoff(), logger: Logger) {
        self.engine = engine
        self.presets = presets
        self.directory = directory
        self.backoff = backoff
        self.logger = logger
    }

    /// One attempt at every preset, in the order declared. Failures are recorded, never thrown.
    public func buildAll() async {
        for preset in presets { await attempt(preset) }
    }

    /// Tries each failed preset again when its delay is up, until all are built or the task is cancelled.
    public func retryFailed() async {
        while !Task.isCancelled {
            let due = presets.compactMap { preset in failed[preset.name]?.retryAt.map { (preset, $0) } }
                .min { $0.1 < $1.1 }
            guard let (preset, at) = due else { return }
            do {
                try await Task.sleep(until: at, clock: .continuous)
            } catch {
                return
            }
            // Built meanwhile through the internal API, perhaps.
            guard failed[preset.name] != nil else { continue }
            await attempt(preset)
        }
    }

    /// The presets that could not be built, by name.
    public func failures() -> [PromptCacheFailure] {
        failed.keys.sorted().compactMap { failure(named: $0) }
    }

    public func failure(named name: String) -> PromptCacheFailure? {
        guard let failure = failed[name] else { return nil }
        let retryIn = failure.retryAt.map { at -> Double in
            let left = (at - .now).components
            return max(0, Double(left.seconds) + Double(left.attoseconds) / 1e18)
        }
        return PromptCacheFailure(name: name, error: failure.error, attempts: failure.attempts, retryInSeconds: retryIn)
    }

    /// A preset built by other means (the internal API) needs no more attempts.
    public func built(_ name: String) {
        failed[name] = nil
    }

    private func attempt(_ preset: Preset) async {
        let attempts = (failed[preset.name]?.attempts ?? 0) + 1
        failed[preset.name]?.retryAt = nil
        do {
            let system = try preset.text()
            let info = try await engine.buildPromptCache(name: preset.name, system: system, directory: directory)
            failed[preset.name] = nil
            logger.info(
                "prompt cache ready",
                metadata: [
                    "preset": "\(info.name)", "tokens": "\(info.tokens)", "rebuilt": "\(info.rebuilt)",
                    "attempt": "\(attempts)",
                ])
        } catch {
            let message = (error as? EngineError)?.message ?? "\(error)"
            let delay = backoff.delay(afterFailures: attempts)
            failed[preset.name] = Failure(attempts: attempts, error: message, retryAt: .now + delay)
            logger.error(
                "prompt cache not built; the model serves without it and tries again later",
                metadata: [
                    "preset": "\(preset.name)", "error": "\(message)", "attempt": "\(attempts)",
                    "retryIn": "\(delay)",
                ])
        }
    }
}
