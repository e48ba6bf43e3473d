import ArgumentParser
import Engine
import Foundation
import Manifest
import Reconciler
import Worker

extension RunnerCommand {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what the last apply made real: models, workers, endpoints, clocks, prompt caches, source.")

        @Flag(help: "Print the status as JSON.")
        var json = false

        @OptionGroup var state: StateOptions

        func run() async throws {
            let directory = state.stateDirectory
            let observer = state.observer
            let applied: ResolvedManifest
            let observed: ObservedState
            do {
                guard let found = try observer.readAppliedManifest() else {
                    let applying = ApplyingRecord.inProgress(in: directory)
                    if json {
                        Console.out(try applying.map { try Self.encode(["applying": $0]) } ?? "null")
                    } else {
                        Console.out(
                            applying.map(StatusText.render) ?? "nothing applied yet (state: \(directory.root.path))")
                    }
                    return
                }
                applied = found
                observed = try observer.observe(desired: applied)
            } catch {
                Console.error("error: \(error)")
                throw ExitCode.failure
            }
            let status = await DeviceStatus.gather(
                applied: applied, observed: observed, state: directory, clocks: state.clockPinning
            ) { record in
                try? await withTimeout(.seconds(2)) { try await WorkerClient(socketPath: record.socket).fetchStatus() }
            }
            Console.out(json ? try Self.encode(status) : StatusText.render(status))
        }

        static func encode(_ value: some Encodable) throws -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        }
    }
}

/// Runs `body`, giving up after `limit`.
func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw CancellationError()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// The human form of `runner status`.
enum StatusText {
    static func render(_ applying: ApplyingRecord) -> String {
        "applying '\(applying.manifest)' since \(applying.since.formatted(.iso8601)) (pid \(applying.pid))"
    }

    /// "resident since …, 174 MiB measured, 1 in use, last used …, unloads at …", or why it is not.
    static func render(_ residency: ResidencyRecord.Model) -> String {
        var parts = ["\(residency.state) since \(residency.since.formatted(.iso8601))"]
        parts.append("\(ByteSize(bytes: residency.bytes).readable) \(residency.measured ? "measured" : "estimated")")
        if residency.pinned { parts.append("pinned") }
        if residency.inUse > 0 { parts.append("\(residency.inUse) in use") }
        if residency.waiting > 0 { parts.append("\(residency.waiting) waiting") }
        parts.append("last used " + (residency.lastUsed.map { $0.formatted(.iso8601) } ?? "never"))
        if let expires = residency.expiresAt { parts.append("unloads at \(expires.formatted(.iso8601)) if idle") }
        if let error = residency.error { parts.append("last load failed: \(error.split(separator: "\n").first ?? "")") }
        return parts.joined(separator: ", ")
    }

    static func render(_ status: DeviceStatus) -> String {
        var lines = status.applying.map { [render($0)] } ?? []
        lines.append("manifest '\(status.manifest)' (state: \(status.stateDirectory))")
        if let budget = status.memoryBudget {
            let held = status.models.compactMap(\.residency).filter { ["resident", "loading"].contains($0.state) }
            let inUse = ByteSize(bytes: held.reduce(0) { $0 + $1.bytes }).readable
            lines.append("  memory: \(inUse) of a \(ByteSize(bytes: budget).readable) budget in use")
        }
        if let source = status.source {
            var text = "  source: \(source.kind ?? "file") \(source.url ?? source.path ?? "")"
            if let commit = source.commit { text += " at \(commit.prefix(12))" }
            lines.append(text)
            if let rejected = source.rejected {
                lines.append(
                    "  rejected: commit \(rejected.commit?.prefix(12) ?? "?"): \(rejected.diagnostics?.first ?? "invalid")")
            }
        }
        for model in status.models {
            var worker = model.worker.pid.map { "running, pid \($0)" } ?? "not running"
            if model.worker.running, model.worker.engine == nil { worker += ", not answering" }
            if let engine = model.worker.engine {
                let busy = engine.slots.filter { $0.state != .idle }.count
                worker += ", \(busy)/\(engine.slots.count) busy, \(engine.queued) queued"
            }
            if let restarts = model.worker.restarts, restarts > 0 { worker += ", \(restarts) restarts" }
            if let loop = model.worker.crashLoop {
                worker += "; CRASH LOOP: \(loop.restarts) restarts in \(loop.windowSeconds) s, next attempt \(loop.nextAttempt)"
            }
            lines.append("  model \(model.name) [\(model.engine)]: \(worker)")
            if let residency = model.residency { lines.append("    memory: \(render(residency))") }
            if let exit = model.worker.lastExit {
                lines.append("    last exit: \(exit.reason) at \(exit.at.formatted(.iso8601)); the end of its log:")
                lines += exit.log.map { "      | \($0)" }
            }
            lines.append("    source: \(model.source)\(model.sha256.map { " sha256 \($0.prefix(12))" } ?? "")")
            lines.append("    file: \(model.file ?? "missing")")
            for cache in model.promptCaches {
                lines.append("    prompt cache \(cache.name): \(cache.built ? "built" : "not built")")
            }
        }
        for endpoint in status.endpoints {
            lines.append(
                "  endpoint \(endpoint.name): \(endpoint.listen) (\(endpoint.apis.joined(separator: ", "))), "
                    + (endpoint.ready ? "ready" : "not ready"))
        }
        if let clocks = status.clocks {
            var text = "  clocks: \(clocks.policy), soc \(clocks.soc.soc.rawValue)"
            if clocks.pinned { text += ", pinned" }
            if !clocks.drift.isEmpty { text += ", \(clocks.drift.count) drifted" }
            lines.append(text)
            for drift in clocks.drift { lines.append("    drift: \(drift.description)") }
            if let warning = clocks.soc.warning { lines.append("    \(warning)") }
        }
        return lines.joined(separator: "\n")
    }
}
