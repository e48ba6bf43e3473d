public import Foundation
public import Worker

extension WorkerDefinition {
    /// Written atomically: a worker starting meanwhile reads the old definition or the new one, never half.
    public func write(to url: URL) throws { try AtomicFile.write(json: self, to: url) }
}

extension StateDirectory {
    public var workerDefinitions: URL { workers.appendingPathComponent("definitions") }
    public func workerDefinition(_ model: String) -> URL { workerDefinitions.appendingPathComponent("\(model).json") }
}
