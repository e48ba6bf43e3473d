public import ServiceLifecycle

/// Keeps the supervisor's workers for the life of the service group: checks their health at the
/// supervisor's interval, and stops them, after everything that depends on them (the gateway, started later
/// in the group) has shut down.
public struct SupervisorService: Service, CustomStringConvertible {
    public let supervisor: WorkerSupervisor

    public init(supervisor: WorkerSupervisor) { self.supervisor = supervisor }

    public func run() async throws {
        let interval = supervisor.health.interval
        // Cancelled on graceful shutdown: a health check must not kill a worker that is being stopped.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                await supervisor.checkHealth()
            }
        }
        await supervisor.stopAll()
    }

    public var description: String { "SupervisorService" }
}
