public import ServiceLifecycle

/// Keeps the supervisor's workers for the life of the service group and stops them, after everything that
/// depends on them (the gateway, started later in the group) has shut down.
public struct SupervisorService: Service, CustomStringConvertible {
    public let supervisor: WorkerSupervisor

    public init(supervisor: WorkerSupervisor) { self.supervisor = supervisor }

    public func run() async throws {
        try? await gracefulShutdown()
        await supervisor.stopAll()
    }

    public var description: String { "SupervisorService" }
}
