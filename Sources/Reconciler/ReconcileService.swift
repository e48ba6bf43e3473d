public import ServiceLifecycle

/// `runner serve`'s watch loop: every `interval`, a new manifest version (when the source's own interval
/// has passed) and then drift — model files and clocks. Worker deaths and hangs are the supervisor's.
public struct ReconcileService: Service, CustomStringConvertible {
    public let follower: ManifestFollower
    public let deployment: LiveDeployment
    public let interval: Duration

    public init(follower: ManifestFollower, deployment: LiveDeployment, interval: Duration) {
        self.follower = follower
        self.deployment = deployment
        self.interval = interval
    }

    public func run() async throws {
        // Cancelled on graceful shutdown: a change half-applied is finished by the next start, whose apply
        // begins from what runs.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                _ = await follower.poll()
                await deployment.repairDrift()
            }
        }
    }

    public var description: String { "ReconcileService" }
}
