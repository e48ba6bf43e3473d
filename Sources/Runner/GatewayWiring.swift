import Engine
import Foundation
import Gateway
import Hummingbird
import Logging
import Manifest
import NIOCore
import NIOPosix
import Reconciler
import ServiceLifecycle
import Worker

/// Runs a service with an event loop as its tasks' executor: a gateway server's accept loop and the task it
/// starts for each connection then run on the loop its connections live on, without waking threads of the
/// global pool on the way.
struct OnEventLoop: Service {
    let service: any Service
    let loop: any EventLoop

    init(_ service: any Service, loop: any EventLoop) {
        self.service = service
        self.loop = loop
    }

    func run() async throws {
        try await withTaskExecutorPreference(EventLoopTaskExecutor(loop)) {
            try await service.run()
        }
    }
}

/// The gateway's admin routes answered from the device's state.
struct DeviceAdminRoutes: AdminSource {
    let device: DeviceAdmin

    func status() async -> Data { await device.status() }
    func promptCaches() async -> [String: PromptCacheReport] { await device.promptCaches() }
    func buildPromptCache(model: String, name: String, system: String) async throws -> PromptCacheInfo {
        try await device.buildPromptCache(model: model, name: name, system: system)
    }
}

/// Builds one gateway server per manifest endpoint, each routing to the supervisor's workers.
enum GatewayWiring {
    static func applications(for manifest: ResolvedManifest, scheduler: ModelScheduler, logger: Logger) async throws
        -> [any Service]
    {
        let metrics = GatewayMetrics(registry: scheduler.metrics.registry)
        let admin = DeviceAdmin(manifest: manifest, supervisor: scheduler.supervisor, scheduler: scheduler)
        var applications: [any Service] = []
        for endpoint in manifest.endpoints {
            let registry = ModelRegistry(await servedModels(endpoint, in: manifest, scheduler: scheduler))
            applications.append(
                try application(
                    endpoint, registry: registry, metrics: metrics, admin: admin, scheduler: scheduler, logger: logger))
        }
        return applications
    }

    /// The models an endpoint exposes, in its order. Whether one is ready is the scheduler's answer: a model
    /// that loads on demand is ready while it is not loaded.
    static func servedModels(_ endpoint: ResolvedEndpoint, in manifest: ResolvedManifest, scheduler: ModelScheduler) async
        -> [ServedModel]
    {
        var models: [ServedModel] = []
        for name in endpoint.models {
            guard let model = manifest.model(named: name) else { continue }
            var served = ServedModel(model, worker: await scheduler.supervisor.client(for: model.name))
            served.isReady = { await scheduler.isReady(model.name) }
            models.append(served)
        }
        return models
    }

    /// One endpoint's server; throws when its tokens file cannot be read.
    static func application(
        _ endpoint: ResolvedEndpoint, registry: ModelRegistry, metrics: GatewayMetrics, admin: DeviceAdmin,
        scheduler: ModelScheduler, logger: Logger
    ) throws -> any Service {
        let tokens = try endpoint.tokensFile.map { try BearerTokens(contentsOf: $0) }
        let server = GatewayServer.Endpoint(
            name: endpoint.name, address: bindAddress(endpoint.listen),
            apis: Set(endpoint.apis.compactMap { GatewayServer.Endpoint.API(rawValue: $0.rawValue) }), tokens: tokens,
            corsOrigins: endpoint.corsOrigins)
        let gateway = Gateway(
            registry: registry, limits: Gateway.Limits(maxBodyBytes: endpoint.maxBodyBytes, remoteImages: endpoint.remoteImages),
            metrics: metrics,
            version: RunnerVersion.current, residency: scheduler)
        var endpointLogger = logger
        endpointLogger[metadataKey: "endpoint"] = .string(endpoint.name)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        return OnEventLoop(
            GatewayServer.application(
                endpoint: server, gateway: gateway, admin: DeviceAdminRoutes(device: admin), eventLoop: loop,
                logger: endpointLogger),
            loop: loop)
    }

    static func bindAddress(_ listen: ListenAddress) -> BindAddress {
        switch listen {
        case .tcp(let host, let port): .hostname(host, port: port)
        case .unix(let path): .unixDomainSocket(path: path)
        }
    }
}
