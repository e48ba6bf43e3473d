import AsyncHTTPClient
import Engine
import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import Worker

/// A gateway on a real TCP port in front of the real SmolLM2 model, for tests that speak HTTP to it.
enum LiveGateway {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static var modelPath: String {
        ProcessInfo.processInfo.environment["RUNNER_TEST_MODEL"] ?? packageRoot + "/.deps/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    }

    /// One engine for all gateway tests: the gateway, not the engine, is under test here.
    static let engine = Task<any Engine, any Error> {
        try await LlamaEngine.load(
            LlamaEngine.Configuration(
                libraryPath: LlamaLibraryLocator.locate(manifestLibrary: nil, workingDirectory: packageRoot),
                modelPath: modelPath,
                modelName: "smollm2-135m-instruct", context: 2048, parallel: 4, threads: 2))
    }

    static func model(_ engine: any Engine) -> ServedModel {
        ServedModel(
            name: "smollm2-135m-instruct", aliases: ["smollm2", "default"], engineKind: "llamacpp", context: 2048,
            sizeBytes: (try? FileManager.default.attributesOfItem(atPath: modelPath)[.size] as? Int64) ?? 0,
            modifiedAt: Date(timeIntervalSince1970: 1_700_000_000), family: "llama", quantization: "Q4_1", parameterSize: "135M",
            capabilities: [.completion, .tools], engine: engine)
    }

    /// Serves the given APIs on 127.0.0.1 with a free port while `body` runs.
    static func with(
        apis: Set<GatewayServer.Endpoint.API> = [.openai, .ollama, .admin, .metrics], tokens: [String]? = nil,
        corsOrigins: [String] = [],
        limits: Gateway.Limits = Gateway.Limits(), admin: (any AdminSource)? = nil, backend: LiveBackend = .inProcess,
        _ body: @Sendable (_ base: String, _ gateway: Gateway) async throws -> Void
    ) async throws {
        let gateway = Gateway(
            registry: ModelRegistry([model(try await backend.engine())]), limits: limits, version: "0.1.0-test")
        let endpoint = GatewayServer.Endpoint(
            name: "test", address: .hostname("127.0.0.1", port: 0), apis: apis, tokens: tokens.map(BearerTokens.init),
            corsOrigins: corsOrigins)
        let app = GatewayServer.application(
            endpoint: endpoint, gateway: gateway, admin: admin, logger: Logger(label: "gateway-test"))
        try await app.test(.live) { client in
            guard let port = client.port else { throw CancellationError() }
            try await body("http://127.0.0.1:\(port)", gateway)
        }
    }

    /// A client whose only limit is each request's deadline: the shared client's 90 s read timeout would cut a
    /// whole answer that a loaded machine takes longer to generate.
    static let client = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: HTTPClient.Configuration(timeout: .init(connect: .seconds(10), read: nil)))

    /// A request and its whole answer.
    static func send(
        _ method: HTTPRequest.Method, _ url: String, json: String? = nil, headers: [String: String] = [:],
        timeout: TimeAmount = .seconds(120)
    ) async throws -> (status: Int, headers: [String: String], body: String) {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method.rawValue)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await client.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 64 << 20)
        var names: [String: String] = [:]
        for header in response.headers { names[header.name.lowercased()] = header.value }
        return (Int(response.status.code), names, String(buffer: body))
    }

    /// A streaming request, its body handed over chunk by chunk as it arrives.
    static func stream(
        _ url: String, json: String, headers: [String: String] = [:], timeout: TimeAmount = .seconds(120)
    ) async throws -> (status: Int, chunks: [String]) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: json))
        let response = try await client.execute(request, timeout: timeout)
        var chunks: [String] = []
        for try await buffer in response.body { chunks.append(String(buffer: buffer)) }
        return (Int(response.status.code), chunks)
    }
}
