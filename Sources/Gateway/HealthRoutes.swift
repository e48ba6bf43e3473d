internal import Foundation
internal import Hummingbird

/// `/healthz`: the process answers. `/readyz`: every model this endpoint exposes answers too.
enum HealthRoutes {
    static func register(on router: Router<GatewayContext>, gateway: Gateway) {
        router.get("/healthz") { _, _ in Response(status: .ok, body: ResponseBody(byteBuffer: .init(string: "ok\n"))) }
        router.get("/readyz") { _, _ in
            var lines: [String] = []
            var ready = true
            for model in gateway.registry.models {
                let answers = (try? await withTimeout(.seconds(2)) { await model.isReady() }) ?? false
                ready = ready && answers
                lines.append("\(model.name): \(answers ? "ready" : "not ready")")
            }
            return Response(
                status: ready ? .ok : .serviceUnavailable,
                body: ResponseBody(byteBuffer: .init(string: lines.joined(separator: "\n") + "\n")))
        }
    }
}

/// Runs `body`, giving up after `timeout`.
func withTimeout<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw CancellationError()
        }
        let first = try await group.next()!
        group.cancelAll()
        return first
    }
}
