public import Engine
internal import Foundation
public import Hummingbird
public import Logging
internal import NIOCore

/// Serves one engine over the internal API on a Unix socket.
public enum WorkerServer {
    public struct Context: RequestContext {
        public var coreContext: CoreRequestContextStorage
        public init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
        public var maxUploadSize: Int { InternalAPI.maxBodyBytes }
    }

    /// The application; run it as a service (it stops gracefully, finishing in-flight requests, on SIGTERM).
    /// - Parameter cacheDirectory: where `POST /v1/caches` builds prompt caches.
    /// - Parameter warmup: the model's declared presets, whose failures the status and errors report.
    public static func application(
        engine: any Engine, modelName: String, cacheDirectory: String, warmup: PresetWarmup? = nil, socketPath: String,
        logger: Logger
    )
        -> some ApplicationProtocol
    {
        Application(
            router: router(engine: engine, modelName: modelName, cacheDirectory: cacheDirectory, warmup: warmup),
            configuration: .init(address: .unixDomainSocket(path: socketPath), serverName: "rockchipllama-worker"),
            logger: logger)
    }

    public static func router(engine: any Engine, modelName: String, cacheDirectory: String, warmup: PresetWarmup? = nil)
        -> Router<Context>
    {
        let router = Router(context: Context.self)
        router.get(RouterPath(InternalAPI.health)) { _, _ in
            try json(HealthResponse(status: "ok", model: modelName, pid: getpid()))
        }
        @Sendable func status() async -> EngineStatus {
            var status = await engine.status()
            if let warmup { status.promptCacheFailures = await warmup.failures() }
            return status
        }
        router.get(RouterPath(InternalAPI.status)) { _, _ in try json(await status()) }
        router.get(RouterPath(InternalAPI.caches)) { _, _ in try json(PromptCacheReport(await status())) }
        router.post(RouterPath(InternalAPI.tokenize)) { request, context in
            let body = try await request.decode(as: TokenizeRequest.self, context: context)
            return try await answer { try json(TokenizeResponse(tokens: try await engine.tokenize(body.text))) }
        }
        router.post(RouterPath(InternalAPI.embed)) { request, context in
            let body = try await request.decode(as: EmbedRequest.self, context: context)
            return try await answer { try json(try await engine.embed(body.inputs)) }
        }
        router.post(RouterPath(InternalAPI.caches)) { request, context in
            let body = try await request.decode(as: BuildCacheRequest.self, context: context)
            return try await answer {
                let info = try await engine.buildPromptCache(name: body.name, system: body.system, directory: cacheDirectory)
                await warmup?.built(body.name)
                return try json(info)
            }
        }
        router.post(RouterPath(InternalAPI.generate)) { request, context in
            let generation = try await request.decode(as: GenerationRequest.self, context: context)
            return try await answer {
                let events: AsyncThrowingStream<GenerationEvent, any Error>
                do {
                    events = try await engine.generate(generation)
                } catch let error as EngineError where error.code == .unknownPromptCache {
                    // A declared preset that failed to build: say why, not merely that it does not exist.
                    guard let name = generation.promptCache, let failure = await warmup?.failure(named: name) else {
                        throw error
                    }
                    let retry = failure.retryInSeconds.map { "; the worker tries again in \(Int($0.rounded(.up))) s" } ?? ""
                    throw EngineError(
                        .unknownPromptCache,
                        "prompt cache '\(name)' of model \(modelName) is not built (attempt \(failure.attempts) failed: "
                            + "\(failure.error))\(retry)")
                }
                return Response(
                    status: .ok, headers: [.contentType: "application/x-ndjson"],
                    body: ResponseBody { writer in
                        // One line per event, written as soon as it exists. A client that goes away makes
                        // `write` throw, which ends this loop and so the stream, which frees the slot.
                        let encoder = JSONEncoder()
                        for try await event in events {
                            var line = try encoder.encode(event)
                            line.append(UInt8(ascii: "\n"))
                            try await writer.write(ByteBuffer(bytes: line))
                        }
                        try await writer.finish(nil)
                    })
            }
        }
        return router
    }

    /// Runs `body`, turning an engine error into its status code and `ErrorBody`.
    static func answer(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let error as EngineError {
            var response = try json(ErrorBody(error: error))
            response.status = status(for: error.code)
            return response
        }
    }

    static func status(for code: EngineError.Code) -> HTTPResponse.Status {
        switch code {
        case .promptTooLong, .invalidRequest, .unknownPromptCache, .unsupported: .badRequest
        case .unavailable: .serviceUnavailable
        default: .internalServerError
        }
    }

    static func json(_ value: some Encodable) throws -> Response {
        let data = try JSONEncoder().encode(value)
        return Response(
            status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
