import Engine
import TestSupport
import Testing

extension ModelTests {
    @Suite struct Scheduling {
        @Test func concurrentRequestsMatchTheirSequentialOutput() async throws {
            let engine = try await TestModel.shared.value
            let prompts = [
                "What is the capital of France?", "Name three colors.", "What is 2+2?",
                "Tell me a story about a dragon.",
            ]
            var sequential: [String] = []
            for prompt in prompts { sequential.append(try await generate(engine, .chat(prompt)).text) }
            let concurrent = try await withThrowingTaskGroup(of: (Int, Generated).self) { group in
                for (index, prompt) in prompts.enumerated() {
                    group.addTask { (index, try await generate(engine, .chat(prompt))) }
                }
                var results = [Generated](repeating: Generated(), count: prompts.count)
                for try await (index, result) in group { results[index] = result }
                return results
            }
            #expect(concurrent.map(\.text) == sequential)
            #expect(concurrent.allSatisfy { $0.done != nil && $0.eventsAfterDone == 0 })
        }

        @Test func requestsBeyondTheSlotsWaitInTheQueue() async throws {
            let engine = try await LlamaEngine.load(TestModel.configuration(context: 512, parallel: 1))
            async let first = generate(engine, .chat("Tell me a story about a dragon.", maxTokens: 16))
            async let second = generate(engine, .chat("Name three colors.", maxTokens: 16))
            let (a, b) = try await (first, second)
            #expect(a.done?.reason != nil && b.done?.reason != nil)
            let waited = max(a.done!.timings.queueMs, b.done!.timings.queueMs)
            #expect(waited > 20)  // one of them waited for the other's whole generation
            await engine.shutdown()
        }

        @Test func runningStreamsKeepFlowingWhileALongPromptIsPrefilled() async throws {
            var configuration = TestModel.configuration(context: 1024, parallel: 2)
            configuration.prefillChunk = 32
            let engine = try await LlamaEngine.load(configuration)
            let log = EventLog()
            let running = try await engine.generate(.chat("Write a very long story about a dragon.", maxTokens: 300))
            let runner = Task {
                for try await event in running { if case .text = event { await log.add("a") } }
            }
            guard try await eventually("the running stream's first token", every: .milliseconds(2), { await log.count > 0 })
            else {
                return
            }
            let longPrompt = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 60)
            var firstToken = false
            await log.add("submit")
            for try await event in try await engine.generate(.chat(longPrompt, maxTokens: 2)) {
                if case .text = event, !firstToken {
                    firstToken = true
                    await log.add("b")
                }
            }
            runner.cancel()
            // ~600 prompt tokens in chunks of 32 take ~19 steps; each step also decodes a token of the story.
            let entries = await log.entries
            let submitted = try #require(entries.firstIndex(of: "submit"))
            let answered = try #require(entries.firstIndex(of: "b"))
            #expect(entries[submitted..<answered].filter { $0 == "a" }.count >= 10)
            await engine.shutdown()
        }

        @Test func secondTurnReusesTheConversationPrefix() async throws {
            let engine = try await TestModel.shared.value
            let system = "You are a helpful assistant who answers in one sentence."
            let first = try await generate(engine, .chat("What is the capital of Italy?", system: system))
            let second = try await generate(
                engine,
                GenerationRequest(
                    input: .messages([
                        .system(system), .user("What is the capital of Italy?"), .assistant(first.text),
                        .user("And of Spain?"),
                    ]), sampling: .greedy, maxTokens: 16))
            let usage = try #require(second.done?.usage)
            #expect(usage.cachedPromptTokens >= first.done!.usage.promptTokens)
            #expect(second.done!.timings.prefillTokens == usage.promptTokens - usage.cachedPromptTokens)
        }

        @Test func cancellingFreesTheSlotAndTheEngineKeepsServing() async throws {
            let engine = try await TestModel.shared.value
            let stream = try await engine.generate(.chat("Write a very long story about a dragon.", maxTokens: 900))
            let log = EventLog()
            let consumer = Task {
                for try await event in stream {
                    if case .text = event { await log.add("text") }
                }
            }
            // Cancelled while generating: a few tokens in, hundreds before its end.
            try await eventually("the story's first tokens") { await log.count >= 3 }
            consumer.cancel()
            _ = try? await consumer.value
            try await eventually("the cancelled generation to free its slot", timeout: .seconds(10)) {
                await engine.status().slots.allSatisfy { $0.state == .idle }
            }
            let after = try await generate(engine, .chat("What is 2+2?"))
            #expect(after.done?.reason == .stop)
        }

        @Test func shutdownEndsRunningStreamsWithCancelled() async throws {
            let engine = try await LlamaEngine.load(TestModel.configuration(context: 512, parallel: 1))
            let stream = try await engine.generate(.chat("Write a very long story about a dragon.", maxTokens: 400))
            var events: [GenerationEvent] = []
            for try await event in stream {
                events.append(event)
                if events.count == 2 { await engine.shutdown() }
            }
            guard case .done(let completion) = events.last else {
                Issue.record("the stream did not end with done")
                return
            }
            #expect(completion.reason == .cancelled)
            await #expect(throws: EngineError.self) { _ = try await engine.generate(.chat("Hi")) }
        }
    }
}

actor EventLog {
    private(set) var entries: [String] = []
    var count: Int { entries.count }
    func add(_ entry: String) { entries.append(entry) }
}
