internal import Foundation
public import ServiceLifecycle

/// Ends the worker when the supervisor that started it is gone (the worker is re-parented), so a supervisor
/// killed with SIGKILL never leaves orphaned workers holding memory and NPU domains.
public struct ParentWatch: Service, CustomStringConvertible {
    public init() {}

    public func run() async throws {
        let parent = getppid()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            if getppid() != parent { return }
        }
    }

    public var description: String { "ParentWatch" }
}
