import Engine
import Foundation
import Testing

extension ModelTests {
    @Suite struct Generation {
        @Test func greedyOutputIsDeterministicAndSensible() async throws {
            let engine = try await TestModel.shared.value
            let first = try await generate(engine, .chat("What is the capital of France?"))
            let second = try await generate(engine, .chat("What is the capital of France?"))
            #expect(first.text == second.text)
            #expect(first.text.contains("Paris"))
            #expect(first.done?.reason == .stop)
            #expect(first.eventsAfterDone == 0)
            let usage = try #require(first.done?.usage)
            #expect(usage.promptTokens > 5)
            #expect(usage.completionTokens > 3)
            let timings = try #require(first.done?.timings)
            #expect(timings.prefillMs > 0 && timings.decodeMs > 0)
            #expect(timings.prefillTokens + usage.cachedPromptTokens == usage.promptTokens)
        }

        @Test func seededSamplingIsReproducible() async throws {
            let engine = try await TestModel.shared.value
            let sampling = Sampling(temperature: 1.0, topK: 40, topP: 0.95, seed: 1234)
            let request = GenerationRequest.chat("Tell me a story about a dragon.", maxTokens: 24, sampling: sampling)
            let first = try await generate(engine, request)
            let second = try await generate(engine, request)
            #expect(!first.text.isEmpty)
            #expect(first.text == second.text)
        }

        @Test func maxTokensEndsWithLengthAndExactCount() async throws {
            let engine = try await TestModel.shared.value
            let result = try await generate(engine, .chat("Tell me a long story about a dragon.", maxTokens: 7))
            #expect(result.done?.reason == .length)
            #expect(result.done?.usage.completionTokens == 7)
            #expect(result.done?.timings.decodeTokens == 6)
        }

        @Test func stopStringTruncatesExactlyAndIsNeverEmitted() async throws {
            let engine = try await TestModel.shared.value
            let prompt = "Tell me a story about a dragon."
            let full = try await generate(engine, .chat(prompt, maxTokens: 32))
            // A stop string made of the end of one token and the start of the next, so it only appears
            // once both have been sampled.
            let index = try #require(
                full.deltas.indices.dropFirst(3).first { full.deltas[$0].count >= 2 && full.deltas[$0 + 1].count >= 2 })
            let stop = String(full.deltas[index].suffix(2)) + String(full.deltas[index + 1].prefix(2))
            let expected = String(full.text[..<full.text.range(of: stop)!.lowerBound])

            var request = GenerationRequest.chat(prompt, maxTokens: 32)
            request.stop = [stop]
            let stopped = try await generate(engine, request)
            #expect(stopped.text == expected)
            #expect(!stopped.deltas.contains { $0.contains(stop) })
            #expect(stopped.done?.reason == .stop)
        }

        @Test func multibyteCharactersAreNeverSplitAcrossDeltas() async throws {
            let engine = try await TestModel.shared.value
            #expect(try await engine.tokenize("😀").count > 1)  // the emoji spans several tokens
            var request = GenerationRequest.prompt("🐉🐉🐉 🎉🎉🎉 😀😀😀 🐉🐉🐉 🎉🎉🎉 😀😀😀", maxTokens: 24)
            request.sampling = .greedy
            let result = try await generate(engine, request)
            #expect(result.text.contains("😀"))
            #expect(!result.deltas.contains { $0.isEmpty || $0.unicodeScalars.contains("\u{FFFD}") })
            #expect(result.deltas.count < result.done!.usage.completionTokens)
        }

        @Test func jsonResponseFormatGivesAJSONObject() async throws {
            let engine = try await TestModel.shared.value
            var request = GenerationRequest.chat("Reply in JSON: a cat with a name and an age.", maxTokens: 48)
            request.responseFormat = ResponseFormat(kind: .jsonObject)
            let result = try await generate(engine, request)
            #expect(result.done?.reason == .stop)
            let object = try JSONSerialization.jsonObject(with: Data(result.text.utf8))
            #expect(object is [String: Any])
        }

        @Test func overlongPromptIsRefusedBeforeDecoding() async throws {
            let engine = try await TestModel.shared.value
            let prompt = String(repeating: "the cat sat on the mat. ", count: 400)
            await #expect {
                _ = try await engine.generate(.chat(prompt))
            } throws: { error in
                (error as? EngineError)?.code == .promptTooLong
            }
            #expect(await engine.status().slots.allSatisfy { $0.state == .idle })
        }

        @Test func tokenizeAndEmbed() async throws {
            let engine = try await TestModel.shared.value
            #expect(try await engine.tokenize("Hello world").count >= 2)
            let embeddings = try await engine.embed(["Hello world", "Hello world", "Quantum chromodynamics"])
            #expect(embeddings.vectors.count == 3)
            let (a, b, c) = (embeddings.vectors[0], embeddings.vectors[1], embeddings.vectors[2])
            #expect(a.count > 100 && a.count == c.count)
            func dot(_ x: [Float], _ y: [Float]) -> Float { zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } }
            #expect(abs(dot(a, a) - 1) < 1e-3)
            #expect(abs(dot(a, b) - 1) < 1e-3)
            #expect(dot(a, c) < 0.999)
        }
    }
}
