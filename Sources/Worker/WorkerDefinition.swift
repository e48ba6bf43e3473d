public import Foundation
public import Manifest

/// What one worker runs: its model (as applied, with every default resolved) and the runtimes the manifest
/// named. `runner serve` writes it before it starts the worker and the worker reads it at every (re)start,
/// so a worker restarted after a crash gets the definition that was applied, not whatever the manifest file
/// (or a git checkout) says by then, which may be a newer or an invalid version.
public struct WorkerDefinition: Codable, Sendable, Equatable {
    public var model: ResolvedModel
    public var runtimes: ResolvedRuntimes

    public init(model: ResolvedModel, runtimes: ResolvedRuntimes) {
        self.model = model
        self.runtimes = runtimes
    }

    public struct ReadError: Error, CustomStringConvertible {
        public var description: String
    }

    public static func read(from url: URL) throws -> WorkerDefinition {
        do {
            return try JSONDecoder().decode(WorkerDefinition.self, from: Data(contentsOf: url))
        } catch {
            throw ReadError(description: "cannot read the worker definition \(url.path): \(error)")
        }
    }
}
