import Foundation
import Synchronization
import TestSupport
import Testing

@testable import Engine

/// The rkllm engine end to end through RKLLMSim (real text from the real model), for both ABIs.
@Suite(.serialized) struct RKLLMEngineTests {
    static let abis: [RKLLMRuntimeABI] = [.v1Dot2, .v1Dot3]

    @Test(arguments: abis) func chatStreamsRealTextWithUsageAndIsDeterministicWhenGreedy(abi: RKLLMRuntimeABI) async throws {
        let sim = try SimEnvironment()
        let engine = try await RKLLMEngine.load(RKLLMSim.configuration(abi))
        let request = GenerationRequest.chat("What is the capital of France?", maxTokens: 24)
        let first = try await generate(engine, request)
        #expect(first.deltas.count > 1)
        #expect(!first.text.trimmingCharacters(in: .whitespaces).isEmpty)
        let done = try #require(first.done)
        #expect(done.reason == .stop || done.reason == .length)
        #expect(done.usage.completionTokens > 0 && done.usage.completionTokens <= 24)
        #expect(done.usage.promptTokens > 5)
        #expect(first.eventsAfterDone == 0)
        // A fresh question again: the same greedy answer.
        let second = try await generate(engine, .chat("Name a planet.", maxTokens: 8))
        let third = try await generate(engine, .chat("Name a planet.", maxTokens: 8))
        #expect(!second.text.isEmpty && second.text == third.text)
        let init0 = try #require(sim.calls("rkllm_init").first)
        #expect(init0["max_context_len"] as? Int == 1024)
        // Stopped before the simulator's environment is unset: the simulator reads it on every call.
        await engine.shutdown()
        withExtendedLifetime(sim) {}
    }

    @Test(arguments: abis) func aFollowUpSendsOnlyTheNewTurnAndReusesTheCache(abi: RKLLMRuntimeABI) async throws {
        let sim = try SimEnvironment()
        let engine = try await RKLLMEngine.load(RKLLMSim.configuration(abi))
        let opening: [ChatMessage] = [.system("Answer in one short sentence."), .user("Hi, who are you?")]
        let answer = try await generate(engine, GenerationRequest(input: .messages(opening), sampling: .greedy, maxTokens: 16))
        let followUp = opening + [.assistant(answer.text), .user("And what can you do?")]
        let next = try await generate(engine, GenerationRequest(input: .messages(followUp), sampling: .greedy, maxTokens: 16))
        let runs = sim.runs()
        #expect(runs.count == 2)
        #expect(runs.first?.inputTexts == ["Answer in one short sentence.\n\nHi, who are you?"])
        #expect(runs.last?.inputTexts == ["And what can you do?"])
        #expect(runs.last?.keepHistory == 1)
        #expect(try #require(next.done).usage.cachedPromptTokens > 10)

        // Another conversation does not extend the held one: the cache is cleared and it starts afresh.
        _ = try await generate(engine, GenerationRequest(input: .messages([.user("Count to three.")]), maxTokens: 8))
        #expect(sim.runs().last?.inputTexts == ["Count to three."])
        #expect(sim.calls("rkllm_clear_kv_cache").count >= 2)
        // Stopped before the simulator's environment is unset: the simulator reads it on every call.
        await engine.shutdown()
        withExtendedLifetime(sim) {}
    }

    @Test(arguments: abis) func aPresetIsBuiltOnceAndLoadedForPromptsThatStartWithIt(abi: RKLLMRuntimeABI) async throws {
        let sim = try SimEnvironment()
        let directory = sim.directory + "/caches"
        let engine = try await RKLLMEngine.load(RKLLMSim.configuration(abi, cacheDirectory: directory))
        let system = "You are a helpful assistant running on a small edge board. Answer briefly and plainly."
        let built = try await engine.buildPromptCache(name: "assistant", system: system, directory: directory)
        #expect(built.rebuilt && built.tokens > 10)
        #expect(FileManager.default.fileExists(atPath: built.path))
        let again = try await engine.buildPromptCache(name: "assistant", system: system, directory: directory)
        #expect(!again.rebuilt && again.tokens == built.tokens)

        let result = try await generate(engine, .chat("Where is Paris?", system: system, maxTokens: 8))
        #expect(sim.calls("rkllm_load_prompt_cache").count == 1)
        // The cache holds the preset's text inside a whole turn; the request shares all of it but the turn's end.
        let usage = try #require(result.done).usage
        #expect(usage.cachedPromptTokens > built.tokens / 2 && usage.cachedPromptTokens <= built.tokens)
        #expect(await engine.status().promptCaches == ["assistant"])
        await #expect(throws: EngineError.self) {
            var unknown = GenerationRequest.chat("Hi")
            unknown.promptCache = "nope"
            _ = try await engine.generate(unknown)
        }
        // Stopped before the simulator's environment is unset: the simulator reads it on every call.
        await engine.shutdown()
        withExtendedLifetime(sim) {}
    }

    @Test(arguments: abis) func thinkingAndToolCallsAreSplitOutOfTheRuntimeText(abi: RKLLMRuntimeABI) async throws {
        let reply =
            #"<think>Paris is in France.</think>Let me check.<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>"#
        let sim = try SimEnvironment(reply: reply)
        let engine = try await RKLLMEngine.load(RKLLMSim.configuration(abi))
        var request = GenerationRequest.chat("Weather in Paris?", system: "You check the weather.", maxTokens: 64)
        request.tools = [ToolDefinition(name: "get_weather", description: "Current weather", parameters: #"{"type":"object"}"#)]
        let result = try await generate(engine, request)
        #expect(result.reasoning.joined() == "Paris is in France.")
        #expect(result.text == "Let me check.")
        #expect(result.toolCalls.map(\.name) == ["get_weather"])
        #expect(result.toolCalls.first?.arguments == #"{"city":"Paris"}"#)
        _ = try await generate(engine, request)
        let tools = sim.calls("rkllm_set_function_tools")
        #expect(tools.count == 1, "tools are set again only when they change")
        #expect((tools.first?["system"] as? String) == "You check the weather.")
        #expect((tools.first?["tools"] as? String)?.contains(#""name":"get_weather""#) == true)
        // The system text went with the tools, not into the turn.
        #expect(sim.runs().first?.inputTexts == ["Weather in Paris?"])
        // Stopped before the simulator's environment is unset: the simulator reads it on every call.
        await engine.shutdown()
        withExtendedLifetime(sim) {}
    }

    @Test(arguments: abis) func aConsumerThatGoesAwayStopsTheRun(abi: RKLLMRuntimeABI) async throws {
        let sim = try SimEnvironment(tokenDelayMs: 20)
        let engine = try await RKLLMEngine.load(RKLLMSim.configuration(abi))
        var seen = 0
        for try await event in try await engine.generate(.chat("Tell me a long story about a dragon.", maxTokens: 400)) {
            if case .text = event { seen += 1 }
            if seen == 3 { break }
        }
        // The next request runs once the runtime has stopped; the run's end shows it stopped early.
        let next = try await generate(engine, .chat("Hi", maxTokens: 4))
        #expect(next.done?.reason != .error)
        let ends = sim.lines().filter { $0["event"] as? String == "run_end" }
        #expect(ends.first.map { ($0["paused"] as? Bool) == true || ($0["aborted"] as? Bool) == true } == true)
        #expect((ends.first?["generate_tokens"] as? Int ?? 400) < 50)
        // Stopped before the simulator's environment is unset: the simulator reads it on every call.
        await engine.shutdown()
        withExtendedLifetime(sim) {}
    }

    @Test(arguments: abis) func aPresetTheRuntimeDoesNotWriteFailsCleanlyAndTheEngineServes(abi: RKLLMRuntimeABI) async throws {
        let sim = try SimEnvironment()
        let directory = sim.directory + "/caches"
        let engine = try await RKLLMEngine.load(RKLLMSim.configuration(abi, cacheDirectory: directory))
        // The simulator writes the file under `<path>.tmp.<pid>` and renames it; a directory in the way makes
        // the write fail (it prints `E rkllm:` and the run goes on), as a full disk would on a board.
        let obstacle = directory + "/brief.rkllm-cache.tmp.tmp.\(getpid())"
        try FileManager.default.createDirectory(atPath: obstacle, withIntermediateDirectories: true)
        let system = "You answer in one short sentence."
        do {
            _ = try await engine.buildPromptCache(name: "brief", system: system, directory: directory)
            Issue.record("a preset the runtime did not write was reported built")
        } catch let error as EngineError {
            #expect(error.code == .promptCacheFailed)
            #expect(error.message.contains("the run finished but the runtime wrote no file"), "\(error.message)")
        }
        // The build let its run finish (the file is only written then), on both ABIs.
        let end = try #require(sim.lines().last { $0["event"] as? String == "run_end" })
        #expect(end["paused"] as? Bool == false && end["aborted"] as? Bool == false)
        #expect(await engine.status().promptCaches.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: directory + "/brief.rkllm-cache"))

        let answer = try await generate(engine, .chat("Where is Paris?", system: system, maxTokens: 8))
        #expect(!answer.text.isEmpty && answer.done?.reason != .error)

        try FileManager.default.removeItem(atPath: obstacle)
        let built = try await engine.buildPromptCache(name: "brief", system: system, directory: directory)
        #expect(built.rebuilt && built.tokens > 5)
        #expect(await engine.status().promptCaches == ["brief"])
        // Stopped before the simulator's environment is unset: the simulator reads it on every call.
        await engine.shutdown()
        withExtendedLifetime(sim) {}
    }

    @Test func aRunThatIgnoresAbortIsReportedAsStuck() async throws {
        // The simulator checks for an abort between prefill chunks only; a slow prefill of one chunk stands in
        // for a runtime that does not stop.
        let sim = try SimEnvironment(prefillDelayMs: 300)
        let stuck = Mutex<[String]>([])
        var configuration = RKLLMSim.configuration(.v1Dot3)
        configuration.abortGrace = .milliseconds(500)
        configuration.onStuck = { message in stuck.withLock { $0.append(message) } }
        let engine = try await RKLLMEngine.load(configuration)
        let stream = try await engine.generate(.chat("Tell me about the sea.", maxTokens: 4))
        let consumer = Task { for try await _ in stream {} }
        // Cancelled while the runtime is inside the run (prefilling, at 300 ms a token).
        try await eventually("the run to start") { !sim.runs().isEmpty }
        consumer.cancel()
        try await eventually("the stuck run to be reported") { !stuck.withLock { $0 }.isEmpty }
        #expect(stuck.withLock { $0 } == ["an aborted rkllm run did not stop within 0.5 s"])
        #expect(sim.calls("rkllm_abort").count == 1)
        await engine.shutdown()
        withExtendedLifetime(sim) {}
    }

    @Test(arguments: abis) func waitingRequestsRunTogetherAsOneMultiBatchRun(abi: RKLLMRuntimeABI) async throws {
        let sim = try SimEnvironment(tokenDelayMs: 5)
        let engine = try await RKLLMEngine.load(RKLLMSim.configuration(abi, batch: 2))
        // The first request holds the runtime while the next two queue; those two then share one run.
        async let warmup = generate(engine, .chat("Say hello.", maxTokens: 24))
        try await eventually("the first request's run to start") { !sim.runs().isEmpty }
        async let colour = generate(engine, .chat("Name a colour.", maxTokens: 12))
        async let number = generate(engine, .chat("Name a number.", maxTokens: 12))
        let results = try await [warmup, colour, number]
        for result in results { #expect(!result.text.isEmpty && result.done?.reason != .error) }
        let shared = sim.runs().first { Set($0.inputTexts) == ["Name a colour.", "Name a number."] }
        #expect(shared != nil, "the two waiting requests were not batched: \(sim.runs().map(\.inputTexts))")
        #expect(results[1].text != results[2].text)
        // Stopped before the simulator's environment is unset: the simulator reads it on every call.
        await engine.shutdown()
        withExtendedLifetime(sim) {}
    }

    @Test func embeddingsAreNormalisedHiddenStates() async throws {
        let sim = try SimEnvironment()
        let engine = try await RKLLMEngine.load(RKLLMSim.configuration(.v1Dot3))
        let embeddings = try await engine.embed(["The cat sat on the mat.", "Quarterly revenue grew."])
        #expect(embeddings.vectors.count == 2)
        #expect(embeddings.vectors.allSatisfy { $0.count == 576 })
        for vector in embeddings.vectors { #expect(abs(vector.reduce(0) { $0 + $1 * $1 } - 1) < 1e-3) }
        #expect(embeddings.vectors[0] != embeddings.vectors[1])
        await engine.shutdown()
        withExtendedLifetime(sim) {}
    }

    @Test func refusalsComeBeforeAnyRun() async throws {
        let sim = try SimEnvironment(tokenDelayMs: 20)
        await #expect {
            _ = try await RKLLMEngine.load(
                RKLLMEngine.Configuration(libraryPath: RKLLMSim.library(.v1Dot3), abi: .v1Dot2, modelPath: TestModel.model))
        } throws: { error in
            (error as? EngineError)?.code == .unsupported
                && (error as? EngineError)?.message.contains("has the 1.3 ABI") == true
        }
        await #expect {
            _ = try await RKLLMEngine.load(
                RKLLMEngine.Configuration(libraryPath: "/nonexistent/librkllmrt.so", modelPath: TestModel.model))
        } throws: { ($0 as? EngineError)?.code == .libraryNotFound }
        await #expect {
            _ = try await RKLLMEngine.load(
                RKLLMEngine.Configuration(libraryPath: RKLLMSim.library(.v1Dot2), modelPath: "/nonexistent/model.gguf"))
        } throws: { ($0 as? EngineError)?.code == .modelLoadFailed }

        var withAdapter = RKLLMSim.configuration(.v1Dot3)
        withAdapter.loras = [.init(name: "style", path: "/nonexistent/style-lora.gguf")]
        await #expect { _ = try await RKLLMEngine.load(withAdapter) } throws: { error in
            (error as? EngineError)?.message.contains("rkllm_load_lora failed for adapter style") == true
        }

        let engine = try await RKLLMEngine.load(RKLLMSim.configuration(.v1Dot2, queueLimit: 1))
        var adapter = GenerationRequest.chat("Hi")
        adapter.lora = "style"
        await #expect { _ = try await engine.generate(adapter) } throws: { ($0 as? EngineError)?.code == .invalidRequest }
        let long = String(repeating: "word ", count: 1200)
        await #expect { _ = try await engine.generate(.chat(long)) } throws: { ($0 as? EngineError)?.code == .promptTooLong }
        var json = GenerationRequest.chat("Hi")
        json.responseFormat = ResponseFormat(kind: .jsonObject)
        await #expect { _ = try await engine.generate(json) } throws: { ($0 as? EngineError)?.code == .unsupported }
        var forcedCall = GenerationRequest.chat("Hi")
        forcedCall.tools = [ToolDefinition(name: "lookup")]
        forcedCall.toolChoice = .required
        await #expect { _ = try await engine.generate(forcedCall) } throws: { ($0 as? EngineError)?.code == .unsupported }
        var logprobs = GenerationRequest.chat("Hi")
        logprobs.logprobs = 2
        await #expect { _ = try await engine.generate(logprobs) } throws: { ($0 as? EngineError)?.code == .unsupported }

        // One request running, one waiting: a third is refused as busy.
        let running = try await engine.generate(.chat("Tell me a story.", maxTokens: 200))
        var iterator = running.makeAsyncIterator()
        _ = try await iterator.next()
        let waiting = try await engine.generate(.chat("Hi", maxTokens: 2))
        await #expect { _ = try await engine.generate(.chat("Hi", maxTokens: 2)) } throws: {
            ($0 as? EngineError)?.code == .busy
        }
        withExtendedLifetime(waiting) {}
        #expect(sim.runs().count == 1)
        // Stopped before the simulator's environment is unset: the simulator reads it on every call.
        await engine.shutdown()
        withExtendedLifetime(sim) {}
    }
}
