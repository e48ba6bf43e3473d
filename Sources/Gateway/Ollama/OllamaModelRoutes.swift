internal import Foundation
internal import Hummingbird
internal import NIOCore
internal import Worker

/// Model listing and management. The manifest decides which models exist: pull succeeds for a declared model
/// (it is already here) and every route that would change the model store is refused.
enum OllamaModelRoutes {
    static func register(on router: Router<GatewayContext>, gateway: Gateway) {
        router.post("/api/show") { request, _ in
            let wire = try await gateway.decode(OllamaModelRequest.self, from: request, .ollama)
            return OllamaRoutes.json(OllamaModels.show(try gateway.model(wire.requested, .ollama)))
        }
        router.get("/api/ps") { _, _ in
            OllamaRoutes.json(OllamaModels.ps(await running(gateway), now: Date()))
        }
        router.post("/api/pull") { request, _ in
            let wire = try await gateway.decode(OllamaModelRequest.self, from: request, .ollama)
            let model = try gateway.model(wire.requested, .ollama)
            guard wire.stream ?? true else { return OllamaRoutes.json(OllamaProgress(status: "success")) }
            return Response(
                status: .ok, headers: [.contentType: "application/x-ndjson"],
                body: ResponseBody { writer in
                    for line in pullProgress(model) { try await writer.write(ByteBuffer(bytes: OllamaEncoding.line(line))) }
                    try await writer.finish(nil)
                })
        }
        // Changing the model store is the manifest's job (`runner apply`): these answer 403, the server
        // understood the request and refuses it whatever its content, rather than 400 (nothing is wrong with the
        // request) or 405 (the method is the right one for the route).
        router.delete("/api/delete") { _, _ -> Response in throw refusal("deleting models") }
        router.post("/api/copy") { _, _ -> Response in throw refusal("copying models") }
        router.post("/api/create") { _, _ -> Response in throw refusal("creating models") }
        router.post("/api/push") { _, _ -> Response in throw refusal("pushing models") }
        router.post("/api/blobs/:digest") { _, _ -> Response in throw refusal("uploading blobs") }
    }

    /// What `/api/ps` lists: the models the scheduler has in memory; without one, every model that answers
    /// (a restarting worker drops out until it is back). Looking never loads or wakes a model.
    static func running(_ gateway: Gateway) async -> [(model: ServedModel, bytes: Int64, expiresAt: Date?)] {
        if let residency = gateway.residency {
            return residency.residents().compactMap { resident in
                gateway.registry.resolve(resident.name).map { ($0, resident.bytes, resident.expiresAt) }
            }
        }
        var running: [(model: ServedModel, bytes: Int64, expiresAt: Date?)] = []
        for model in gateway.registry.models where (try? await withTimeout(.seconds(2)) { await model.isReady() }) ?? false {
            running.append((model, model.sizeBytes, nil))
        }
        return running
    }

    static func refusal(_ action: String) -> APIError {
        APIError(
            .ollama, .forbidden,
            "\(action) is not available: the runner's manifest is the source of truth for models; "
                + "edit the manifest and run `runner apply` instead")
    }

    /// Ollama's progress lines for a pull that finds everything already present.
    static func pullProgress(_ model: ServedModel) -> [OllamaProgress] {
        let digest = OllamaModels.digest(model)
        return [
            OllamaProgress(status: "pulling manifest"),
            OllamaProgress(
                status: "pulling \(digest.prefix(12))", digest: "sha256:\(digest)", total: model.sizeBytes,
                completed: model.sizeBytes),
            OllamaProgress(status: "verifying sha256 digest"),
            OllamaProgress(status: "writing manifest"),
            OllamaProgress(status: "success"),
        ]
    }
}
