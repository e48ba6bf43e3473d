import Engine
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
            let consumer = Task {
                var deltas = 0
                for try await event in stream {
                    if case .text = event { deltas += 1 }
                }
                return deltas
            }
            while await engine.status().slots.allSatisfy({ $0.state == .idle }) { try await Task.sleep(for: .milliseconds(5)) }
            try await Task.sleep(for: .milliseconds(100))
            consumer.cancel()
            _ = try? await consumer.value
            let deadline = ContinuousClock.now + .seconds(2)
            while await !engine.status().slots.allSatisfy({ $0.state == .idle }) {
                #expect(ContinuousClock.now < deadline, "the slot was not freed")
                try await Task.sleep(for: .milliseconds(5))
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
