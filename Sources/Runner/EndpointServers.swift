import Gateway
import Hummingbird
import Logging
import Manifest
import Reconciler
import ServiceLifecycle

/// `runner serve`'s HTTP servers, one per endpoint, following the running manifest: a new endpoint's server
/// starts, a removed one's stops (draining); one whose address, APIs, auth, CORS, body limit or image
/// fetching changed restarts alone; a change in the models an endpoint exposes only replaces its registry, so its listener
/// stays up. On graceful shutdown every server stops accepting and drains its in-flight requests for up to
/// `drainTimeout`; what is left then is cut.
actor EndpointServers: Service, CustomStringConvertible {
    private struct Server {
        /// As started; compared without its model list.
        var endpoint: ResolvedEndpoint
        var registry: ModelRegistry
        /// Its own group, so it can be shut down gracefully on its own.
        var group: ServiceGroup
        var task: Task<Void, Never>
        var ended = false
    }

    let supervisor: WorkerSupervisor
    let drainTimeout: Duration
    let downloads: DownloadBoard
    let logger: Logger
    /// The deployment's scheduler, handed over before the first manifest is followed (`use`).
    private var scheduler: ModelScheduler?
    private var metrics = GatewayMetrics()
    private var servers: [String: Server] = [:]
    private var manifest: ResolvedManifest?
    private var closing = false

    init(supervisor: WorkerSupervisor, drainTimeout: Duration, downloads: DownloadBoard, logger: Logger) {
        self.supervisor = supervisor
        self.drainTimeout = drainTimeout
        self.downloads = downloads
        self.logger = logger
    }

    nonisolated var description: String { "EndpointServers" }

    /// The scheduler every endpoint asks for its models; its metrics share the endpoints' registry.
    func use(_ scheduler: ModelScheduler) {
        self.scheduler = scheduler
        metrics = GatewayMetrics(registry: scheduler.metrics.registry)
    }

    /// The manifest the servers follow, for the admin API's status.
    var current: ResolvedManifest? { manifest }

    /// Makes the servers match `manifest` (the deployment calls this after every change).
    func follow(_ manifest: ResolvedManifest) async {
        guard !closing, let scheduler else { return }
        self.manifest = manifest
        for name in servers.keys where !manifest.endpoints.contains(where: { $0.name == name }) {
            await stop(name)
        }
        for endpoint in manifest.endpoints {
            let models = await GatewayWiring.servedModels(endpoint, in: manifest, scheduler: scheduler)
            if let server = servers[endpoint.name], !server.ended, Self.sameServer(server.endpoint, endpoint) {
                server.registry.replace(with: models)
                continue
            }
            if servers[endpoint.name] != nil { await stop(endpoint.name) }
            start(endpoint, models: models, in: manifest, scheduler: scheduler)
        }
    }

    /// Waits for graceful shutdown, then drains and stops every server.
    func run() async throws {
        try? await gracefulShutdown()
        closing = true
        await withTaskGroup(of: Void.self) { group in
            for name in servers.keys { group.addTask { await self.stop(name) } }
        }
    }

    private func start(
        _ endpoint: ResolvedEndpoint, models: [ServedModel], in manifest: ResolvedManifest, scheduler: ModelScheduler
    ) {
        let registry = ModelRegistry(models)
        let admin = DeviceAdmin(
            current: { [weak self] in await self?.current ?? manifest }, supervisor: supervisor, scheduler: scheduler,
            downloads: downloads)
        let application: any Service
        do {
            application = try GatewayWiring.application(
                endpoint, registry: registry, metrics: metrics, admin: admin, scheduler: scheduler, logger: logger)
        } catch {
            logger.error("endpoint not started: \(error)", metadata: ["endpoint": "\(endpoint.name)"])
            servers[endpoint.name] = nil
            return
        }
        let group = ServiceGroup(configuration: .init(services: [.init(service: application)], logger: logger))
        let name = endpoint.name
        let logger = logger
        // Detached: the server's group must answer to this actor alone, not to the graceful shutdown of
        // whichever service task happened to call `follow`.
        let task = Task.detached {
            do {
                try await group.run()
            } catch {
                logger.error("endpoint stopped: \(error)", metadata: ["endpoint": "\(name)"])
            }
            await self.ended(name, group)
        }
        servers[name] = Server(endpoint: endpoint, registry: registry, group: group, task: task)
        logger.info("endpoint listening", metadata: ["endpoint": "\(name)", "listen": "\(endpoint.listen.text)"])
    }

    private func ended(_ name: String, _ group: ServiceGroup) {
        if servers[name]?.group === group { servers[name]?.ended = true }
    }

    /// Stops accepting, lets in-flight requests finish for up to `drainTimeout`, then cuts the rest.
    private func stop(_ name: String) async {
        guard let server = servers.removeValue(forKey: name) else { return }
        await server.group.triggerGracefulShutdown()
        let drained = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await server.task.value; return true
            }
            group.addTask {
                try? await Task.sleep(for: self.drainTimeout)
                return false
            }
            let first = await group.next() ?? true
            if !first { server.task.cancel() }
            group.cancelAll()
            return first
        }
        await server.task.value
        logger.info(
            drained ? "endpoint stopped" : "endpoint stopped; requests still running after the drain timeout were cut",
            metadata: ["endpoint": "\(name)"])
    }

    static func sameServer(_ running: ResolvedEndpoint, _ desired: ResolvedEndpoint) -> Bool {
        var running = running
        running.models = desired.models
        return running == desired
    }
}
