import Foundation
import TestSupport
import Testing

/// Models loaded on demand and unloaded when idle, under a memory budget, through `runner apply` with real
/// worker processes: SmolLM2 declared under several names, each worker taking about 175 MiB, with budgets
/// that hold one or two of them.
@Suite(.serialized)
struct ModelLifecycleTests {
    let port = 18_310
    var base: String { "http://127.0.0.1:\(port)" }

    /// One model of the manifest: its name and lifecycle mapping (YAML flow style), optionally another file.
    struct Declared {
        var name: String
        var lifecycle = "{preload: false}"
        var file = ServedDevice.model
        var context = 512
    }

    /// `loadTimeout`: how long a request waits for its model (workers themselves may take a minute to come up).
    func start(_ models: [Declared], budget: String, in device: ServedDevice, loadTimeout: Int = 60) async throws
        -> RunnerProcess.Background
    {
        let manifest = device.directory.appendingPathComponent("device.yaml")
        let declared = models.map { model in
            """
              - name: \(model.name)
                source: {path: \(model.file)}
                context: \(model.context)
                maxTokens: 8
                llamacpp: {threads: 2, parallel: 1}
                lifecycle: \(model.lifecycle)
            """
        }
        try """
        apiVersion: rockchipllama/v1
        kind: Device
        metadata: {name: lifecycle}
        device: {memory: {budget: \(budget)}}
        models:
        \(declared.joined(separator: "\n"))
        endpoints:
          - {name: local, listen: "127.0.0.1:\(port)", apis: [openai, ollama, admin, metrics]}
        """.write(to: manifest, atomically: true, encoding: .utf8)
        let apply = try RunnerProcess.start(
            [
                "apply", manifest.path, "--state-dir", device.state.path, "--readiness-timeout", "60", "--load-timeout",
                "\(loadTimeout)",
            ],
            environment: ServedDevice.environment)
        try await eventually("the endpoint to answer") {
            guard apply.process.isRunning else { return true }
            return (try? await request("\(base)/healthz"))?.status == 200
        }
        #expect(apply.process.isRunning, "\(apply.output().stderr)")
        return apply
    }

    /// A request on a thread of its own (see `Curl.waiting`): these tests wait on loads and swaps.
    func request(_ url: String, method: String? = nil, body: String? = nil) async throws -> Curl.Answer {
        try await Curl.waiting { try Curl.request(url, method: method, body: body) }
    }

    func chat(_ model: String) async throws -> Curl.Answer {
        let port = port
        return try await Curl.waiting { try Curl.chat(port: port, model: model) }
    }

    /// The names `/api/ps` lists, without Ollama's tag.
    func loaded() async throws -> Set<String> {
        let answer = try await request("\(base)/api/ps")
        let json = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
        let models = json?["models"] as? [[String: Any]] ?? []
        return Set(models.compactMap { ($0["name"] as? String)?.replacingOccurrences(of: ":latest", with: "") })
    }

    /// Each model's record in the scheduler's state file.
    func residency(_ device: ServedDevice) throws -> [String: [String: Any]] {
        guard let data = try? Data(contentsOf: device.state.appendingPathComponent("residency.json")) else { return [:] }
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        var models: [String: [String: Any]] = [:]
        for model in json?["models"] as? [[String: Any]] ?? [] { models[model["name"] as? String ?? ""] = model }
        return models
    }

    /// `runner status` (on a thread of its own, as requests are).
    func status(_ device: ServedDevice, _ options: String...) async throws -> RunnerProcess.Output {
        let arguments = ["status"] + options + ["--state-dir", device.state.path]
        return try await Curl.waiting { try RunnerProcess.run(arguments, environment: ServedDevice.environment) }
    }

    /// Each model's state as `runner status --json` reports it.
    func states(_ device: ServedDevice) async throws -> [String: String] {
        let status = try await self.status(device, "--json")
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        var states: [String: String] = [:]
        for model in json?["models"] as? [[String: Any]] ?? [] {
            if let name = model["name"] as? String, let residency = model["residency"] as? [String: Any] {
                states[name] = residency["state"] as? String
            }
        }
        return states
    }

    func metric(_ name: String, _ labels: String) async throws -> Double? {
        let text = try await request("\(base)/metrics").body
        let prefix = "rockchipllama_\(name){\(labels)} "
        return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) }
    }

    @Test func aColdModelLoadsAndTheLeastRecentlyUsedIdleOneMakesRoom() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        let apply = try await start(
            [Declared(name: "a"), Declared(name: "b"), Declared(name: "c")], budget: "400MiB", in: device)
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }
        #expect(try await loaded().isEmpty, "nothing is preloaded")
        try await eventually("status to list the models as not loaded") {
            try await states(device) == ["a": "not-loaded", "b": "not-loaded", "c": "not-loaded"]
        }
        #expect(apply.output().stdout.contains("0 models loaded, 3 on demand"), "\(apply.output().stdout)")

        // A request for a cold model loads it; Ollama's answer counts the load in load_duration.
        let first = try await request(
            "\(base)/api/generate", body: #"{"model": "a", "prompt": "Hi", "stream": false, "options": {"num_predict": 4}}"#)
        #expect(first.status == 200, "\(first.body)")
        let answer = try JSONSerialization.jsonObject(with: Data(first.body.utf8)) as? [String: Any]
        #expect((answer?["load_duration"] as? Int ?? 0) > 50_000_000, "the load took a measurable time: \(first.body)")
        #expect(try await loaded() == ["a"])
        #expect(try await chat("b").status == 200)
        #expect(try await loaded() == ["a", "b"])
        // `a` is used again, so `b` becomes the least recently used.
        #expect(try await chat("a").status == 200)
        #expect(try await chat("c").status == 200)
        #expect(try await loaded() == ["a", "c"], "b was evicted to make room for c")
        try await eventually("status to show b evicted") {
            try await states(device) == ["a": "resident", "b": "evicted", "c": "resident"]
        }
        #expect(try await metric("model_unloads_total", #"model="b",reason="evicted""#) == 1)
        #expect(try await metric("model_loads_total", #"model="c",reason="request""#) == 1)
        // Looking does not wake anything.
        _ = try await request("\(base)/v1/models")
        _ = try await request("\(base)/readyz")
        #expect(try await loaded() == ["a", "c"])

        // keep_alive 0: unloaded once the answer is out.
        let once = try await request(
            "\(base)/api/chat",
            body: #"{"model": "c", "messages": [{"role": "user", "content": "Hi"}], "stream": false, "keep_alive": 0}"#)
        #expect(once.status == 200, "\(once.body)")
        try await eventually("c to be unloaded after its keep_alive: 0 request") { try await loaded() == ["a"] }
        try await eventually("the unload to be counted") {
            try await metric("model_unloads_total", #"model="c",reason="keep_alive""#) == 1
        }
        try await eventually("status to show c unloaded") { try await states(device)["c"] == "unloaded" }

        // The admin API loads and unloads by hand, through the same scheduler.
        let load = try await request("\(base)/v1/loaded/b", method: "PUT", body: #"{"keep_alive": "1h"}"#)
        #expect(load.status == 200 && load.body.contains(#""status":"loaded""#), "\(load.body)")
        let listed = try await request("\(base)/v1/loaded")
        let models = try JSONSerialization.jsonObject(with: Data(listed.body.utf8)) as? [String: Any]
        let entries = models?["models"] as? [[String: Any]] ?? []
        #expect(Set(entries.compactMap { $0["name"] as? String }) == ["a", "b"], "\(listed.body)")
        let b = entries.first { $0["name"] as? String == "b" }
        #expect(b?["expiresAt"] is String && (b?["bytes"] as? Int ?? 0) > 100 << 20, "\(listed.body)")
        #expect(try await request("\(base)/v1/loaded/b", method: "PUT", body: #"{"keep_alive": "soon"}"#).status == 400)
        let unload = try await request("\(base)/v1/loaded/b", method: "DELETE")
        #expect(unload.status == 200 && unload.body.contains(#""status":"unloaded""#), "\(unload.body)")
        #expect(try await loaded() == ["a"])
        #expect(try await request("\(base)/v1/loaded/b", method: "DELETE").body.contains(#""status":"not-loaded""#))

        // Ollama's way: a request with nothing to generate loads; with keep_alive 0 it unloads at once.
        let ollamaLoad = try await request("\(base)/api/generate", body: #"{"model": "b"}"#)
        #expect(ollamaLoad.body.contains(#""done_reason":"load""#), "\(ollamaLoad.body)")
        #expect(try await loaded() == ["a", "b"])
        let ollamaUnload = try await request("\(base)/api/generate", body: #"{"model": "b", "keep_alive": 0}"#)
        #expect(ollamaUnload.body.contains(#""done_reason":"unload""#), "\(ollamaUnload.body)")
        #expect(try await loaded() == ["a"])
        #expect(try await apply.terminate() == 0)
    }

    @Test func twoModelsThatCannotBothFitAreServedOneAfterTheOther() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        let apply = try await start([Declared(name: "a"), Declared(name: "b")], budget: "250MiB", in: device)
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }

        let first = try Curl.stream(
            port: port, model: "a", prompt: "Tell me a long story about a dragon.", maxTokens: 48, in: device.directory)
        let second = try Curl.stream(
            port: port, model: "b", prompt: "Tell me a long story about a knight.", maxTokens: 48, in: device.directory)
        try await eventually("both streams to finish", timeout: .seconds(120)) { first.finished && second.finished }
        for stream in [first, second] {
            #expect(stream.text.contains("data: [DONE]"), "\(stream.text)")
            #expect(stream.text.contains(#""finish_reason":"length""#), "a whole answer: \(stream.text)")
        }
        #expect(try await loaded().count == 1, "only one fits")
        let evictions =
            try await (metric("model_unloads_total", #"model="a",reason="evicted""#) ?? 0)
            + (metric("model_unloads_total", #"model="b",reason="evicted""#) ?? 0)
        #expect(evictions == 1)
        #expect(try await apply.terminate() == 0)
    }

    @Test func anIdleModelIsStoppedAndComesBackOnTheNextRequest() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        let apply = try await start(
            [Declared(name: "a", lifecycle: "{preload: true, idleTimeout: 2s}")], budget: "1GiB", in: device)
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }
        // Preloaded; it may idle out before anything asks (the 2 s run from the load).
        #expect(apply.output().stdout.contains("1 model loaded"), "\(apply.output().stdout)")
        #expect(try await chat("a").status == 200)
        try await eventually("a to be stopped for idling", timeout: .seconds(20)) { try await loaded().isEmpty }
        try await eventually("status to say so") { try await states(device)["a"] == "stopped-idle" }
        let text = try await status(device).stdout
        #expect(text.contains("    memory: stopped-idle since "), "\(text)")
        #expect(text.contains("MiB measured") && text.contains("last used 20"), "\(text)")
        #expect(text.contains("  memory: 0 B of a 1 GiB budget in use"), "\(text)")
        #expect(device.workerPid("a") == nil, "its worker is gone")
        #expect(try await request("\(base)/readyz").status == 200, "a model that loads on demand is ready")
        // It serves the next request: its worker starts again.
        #expect(try await chat("a").status == 200)
        #expect(try await (metric("model_loads_total", #"model="a",reason="request""#) ?? 0) >= 1)
        #expect(try await (metric("model_unloads_total", #"model="a",reason="idle""#) ?? 0) >= 1)
        #expect(try await apply.terminate() == 0)
    }

    @Test func aPinnedModelIsNeverEvictedNorUnloadedByARequest() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        let apply = try await start(
            [Declared(name: "pinned", lifecycle: "{preload: true, pinned: true}"), Declared(name: "other")], budget: "250MiB",
            in: device, loadTimeout: 3)
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }
        #expect(try await loaded() == ["pinned"])
        let base = base
        let (refused, headers) = try await Curl.waiting {
            try Curl.requestWithHeaders("\(base)/v1/chat/completions", body: Curl.chatBody("other", "Hi", maxTokens: 4))
        }
        #expect(refused.status == 503, "\(refused.body)")
        #expect(headers["retry-after"] != nil)
        #expect(refused.body.contains("no room"), "\(refused.body)")
        #expect(try await loaded() == ["pinned"])
        let unload = try await request("\(base)/api/generate", body: #"{"model": "pinned", "keep_alive": 0}"#)
        #expect(unload.status == 400 && unload.body.contains("pinned"), "\(unload.body)")
        #expect(try await loaded() == ["pinned"])
        #expect(try await apply.terminate() == 0)
    }

    @Test func aBusyModelIsNotEvictedAndAWaitingRequestLeavesOrGetsRetryAfter() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        // A request waits up to 8 s for room.
        let apply = try await start(
            // About 270 and 175 MiB: each fits alone, not both; the long context leaves room for a long answer.
            [Declared(name: "busy", lifecycle: "{preload: true}", context: 4096), Declared(name: "other")], budget: "400MiB",
            in: device, loadTimeout: 8)
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }
        let stream = try Curl.stream(
            port: port, model: "busy", prompt: "Tell me a long story about a dragon.", maxTokens: 4000, in: device.directory)
        try await eventually("the stream to start") { stream.text.contains("data: ") }

        // A client that gives up while it waits leaves the queue at once (well before the 8 s are up).
        let leaving = try Curl.stream(port: port, model: "other", prompt: "Hi", maxTokens: 4, in: device.directory)
        try await eventually("the request to wait") { try residency(device)["other"]?["waiting"] as? Int == 1 }
        kill(leaving.process.processIdentifier, SIGKILL)
        leaving.process.waitUntilExit()
        try await eventually("the request to leave the queue", timeout: .seconds(5)) {
            try residency(device)["other"]?["waiting"] as? Int == 0
        }

        // One that stays gets 503 with Retry-After once the 8 s are up; the busy stream runs on meanwhile.
        let base = base
        let (waited, headers) = try await Curl.waiting {
            try Curl.requestWithHeaders(
                "\(base)/api/chat", body: #"{"model": "other", "messages": [{"role": "user", "content": "Hi"}], "stream": false}"#
            )
        }
        #expect(waited.status == 503 && headers["retry-after"] != nil, "\(waited.body)")
        let error = try JSONSerialization.jsonObject(with: Data(waited.body.utf8)) as? [String: Any]
        #expect((error?["error"] as? String)?.contains("no room") == true, "\(waited.body)")
        #expect(!stream.finished, "the busy stream is still running: \(stream.text.suffix(300))")
        #expect(try await loaded() == ["busy"])

        // The client leaves; its generation stops with it, and `busy` stays loaded with nobody waiting for room.
        kill(stream.process.processIdentifier, SIGKILL)
        stream.process.waitUntilExit()
        try await eventually("busy to be idle") { try residency(device)["busy"]?["inUse"] as? Int == 0 }
        #expect(try await states(device) == ["busy": "resident", "other": "not-loaded"])
        #expect(try await apply.terminate() == 0)
    }

    @Test func aModelThatFailsToLoadAnswersEveryWaitingClientWithTheError() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        let broken = device.directory.appendingPathComponent("broken.gguf")
        try "this is not a GGUF file".write(to: broken, atomically: true, encoding: .utf8)
        let apply = try await start(
            [Declared(name: "good", lifecycle: "{preload: false, restart: never}"), Declared(name: "broken", file: broken.path)],
            budget: "1GiB", in: device)
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }

        // Both clients wait on the same load and both hear why it failed, each in its API's shape.
        let base = base
        async let openAI = Curl.waiting {
            try Curl.requestWithHeaders("\(base)/v1/chat/completions", body: Curl.chatBody("broken", "Hi", maxTokens: 4))
        }
        async let ollama = Curl.waiting {
            try Curl.requestWithHeaders(
                "\(base)/api/chat",
                body: #"{"model": "broken", "messages": [{"role": "user", "content": "Hi"}], "stream": false}"#)
        }
        let (openAIAnswer, openAIHeaders) = try await openAI
        let (ollamaAnswer, ollamaHeaders) = try await ollama
        #expect(openAIAnswer.status == 503 && openAIHeaders["retry-after"] != nil, "\(openAIAnswer.body)")
        let openAIError = try JSONSerialization.jsonObject(with: Data(openAIAnswer.body.utf8)) as? [String: Any]
        let message = (openAIError?["error"] as? [String: Any])?["message"] as? String ?? ""
        #expect(message.contains("failed to load"), "\(openAIAnswer.body)")
        #expect(ollamaAnswer.status == 503 && ollamaHeaders["retry-after"] != nil, "\(ollamaAnswer.body)")
        let ollamaError = try JSONSerialization.jsonObject(with: Data(ollamaAnswer.body.utf8)) as? [String: Any]
        #expect((ollamaError?["error"] as? String)?.contains("failed to load") == true, "\(ollamaAnswer.body)")

        try await eventually("status to show the failure") { try await states(device)["broken"] == "failed" }
        #expect(try await loaded().isEmpty)
        #expect(try await chat("good").status == 200, "the other model is unaffected")

        // A loaded worker that dies and is not restarted (`restart: never`) is out of memory; a request loads it again.
        let pid = try #require(device.workerPid("good"))
        kill(pid, SIGKILL)
        try await eventually("status to show good's worker gone") { try await states(device)["good"] == "failed" }
        #expect(try await loaded().isEmpty)
        #expect(try await chat("good").status == 200)
        #expect(try await loaded() == ["good"])
        #expect(try await metric("model_unloads_total", #"model="good",reason="exited""#) == 1)
        #expect(try await apply.terminate() == 0)
    }

    @Test func serveKeepsEachModelsStateAcrossEditsAndDoesNotStartAChangedIdleModel() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        let file = device.directory.appendingPathComponent("device.yaml")
        func write(betaSampling: String, alphaContext: Int = 512, idle: String = "") throws {
            try """
            apiVersion: rockchipllama/v1
            kind: Device
            metadata: {name: edited}
            models:
              - name: alpha
                source: {path: \(ServedDevice.model)}
                context: \(alphaContext)
                llamacpp: {threads: 2, parallel: 1}
                lifecycle: {preload: false\(idle)}
              - name: beta
                source: {path: \(ServedDevice.model)}
                context: 512
                llamacpp: {threads: 2, parallel: 1}
                sampling: {temperature: \(betaSampling)}
                lifecycle: {preload: false}
            endpoints:
              - {name: local, listen: "127.0.0.1:\(port)", apis: [openai, ollama]}
            """.write(to: file, atomically: true, encoding: .utf8)
        }
        try write(betaSampling: "0.5")
        let serve = try RunnerProcess.start(
            ["serve", file.path, "--state-dir", device.state.path, "--interval", "0.3"], environment: ServedDevice.environment)
        defer { if serve.process.isRunning { kill(serve.process.processIdentifier, SIGKILL) } }
        try await eventually("the endpoint to answer") { (try? await request("\(base)/readyz"))?.status == 200 }
        #expect(try await loaded().isEmpty)
        #expect(try await chat("alpha").status == 200)
        let alpha = try #require(device.workerPid("alpha"))

        // Beta changes while it is not loaded: it is not started just to be restarted; alpha keeps its worker.
        try write(betaSampling: "0.2")
        try await eventually("the edit to be applied") {
            let applied = try String(contentsOf: device.state.appendingPathComponent("applied.json"), encoding: .utf8)
            return applied.contains("0.2")
        }
        #expect(try await loaded() == ["alpha"])
        #expect(device.workerPid("beta") == nil)
        #expect(device.workerPid("alpha") == alpha)
        // A lifecycle edit needs no restart either.
        try write(betaSampling: "0.2", idle: ", idleTimeout: 1h")
        try await eventually("the lifecycle edit to be applied") {
            try String(contentsOf: device.state.appendingPathComponent("applied.json"), encoding: .utf8).contains(#""1h""#)
        }
        #expect(device.workerPid("alpha") == alpha)
        // Alpha changes while loaded: it restarts, loaded again.
        try write(betaSampling: "0.2", alphaContext: 768, idle: ", idleTimeout: 1h")
        try await eventually("alpha to restart") {
            guard let pid = device.workerPid("alpha"), pid != alpha else { return false }
            return try await loaded() == ["alpha"]
        }
        #expect(try await chat("beta").status == 200)
        #expect(try await loaded() == ["alpha", "beta"])
        #expect(try await serve.terminate() == 0)
    }
}
