internal import Foundation
public import ServiceLifecycle

/// Ends the worker when the supervisor that started it is gone (the worker is re-parented), so a supervisor
/// killed with SIGKILL never leaves orphaned workers holding memory and NPU domains.
public struct ParentWatch: Service, CustomStringConvertible {
    public init() {}

    public func run() async throws {
        let parent = getppid()
        // Shutdown cuts the sleep short: a worker told to stop (an unload, an eviction) exits at once instead
        // of at the end of the current half second.
        try? await cancelWhenGracefulShutdown {
            while getppid() == parent { try await Task.sleep(for: .milliseconds(500)) }
        }
    }

    public var description: String { "ParentWatch" }
}
