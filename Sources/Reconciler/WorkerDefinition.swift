public import Foundation
public import Manifest

/// What one worker runs, written by `runner serve` before it starts the worker and read by the worker at
/// every (re)start. A worker restarted after a crash thus gets the definition that was applied, not whatever
/// the manifest file (or a git checkout) says by then, which may be a newer or an invalid version.
public struct WorkerDefinition: Codable, Sendable, Equatable {
    public var model: ResolvedModel
    public var runtimes: ResolvedRuntimes

    public init(model: ResolvedModel, runtimes: ResolvedRuntimes) {
        self.model = model
        self.runtimes = runtimes
    }

    public static func read(from url: URL) throws -> WorkerDefinition {
        do {
            return try JSONDecoder.state.decode(WorkerDefinition.self, from: Data(contentsOf: url))
        } catch {
            throw ReconcilerError(.corruptState, "cannot read the worker definition \(url.path): \(error)")
        }
    }

    public func write(to url: URL) throws { try AtomicFile.write(json: self, to: url) }
}

extension StateDirectory {
    public var workerDefinitions: URL { workers.appendingPathComponent("definitions") }
    public func workerDefinition(_ model: String) -> URL { workerDefinitions.appendingPathComponent("\(model).json") }
}
