internal import Foundation
internal import Hummingbird
internal import NIOCore

/// The Ollama-compatible surface, answering as Ollama's own server does: NDJSON streams by default, `stream: false` for one
/// object, durations in nanoseconds, errors as `{"error": "..."}`.
enum OllamaRoutes {
    static func register(on router: Router<GatewayContext>, gateway: Gateway) {
        // Ollama's liveness answer; clients (the CLI, Open WebUI) probe it, often with HEAD, before anything else.
        getAndHead("/", on: router) {
            Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: "Ollama is running")))
        }
        getAndHead("/api/version", on: router) { json(["version": gateway.version]) }
        getAndHead("/api/tags", on: router) { json(OllamaModels.tags(gateway.registry.models)) }
        OllamaModelRoutes.register(on: router, gateway: gateway)
        OllamaEmbedRoutes.register(on: router, gateway: gateway)
    }

    /// Ollama answers HEAD on these routes; the router does not derive HEAD from GET by itself.
    static func getAndHead(
        _ path: RouterPath, on router: Router<GatewayContext>, _ answer: @escaping @Sendable () async throws -> Response
    ) {
        router.get(path) { _, _ in try await answer() }
        router.head(path) { _, _ in try await answer().createHeadResponse() }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: OllamaEncoding.data(value))))
    }

    /// Runs a translation, turning its refusal into Ollama's 400.
    static func adapt<T>(_ body: () throws(OllamaAdapterError) -> T) throws(APIError) -> T {
        do {
            return try body()
        } catch {
            throw APIError.badRequest(error.message, .ollama)
        }
    }
}
