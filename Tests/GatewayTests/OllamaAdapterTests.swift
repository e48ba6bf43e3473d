import Engine
import Foundation
import Testing
import Worker

@testable import Gateway

/// Ollama wire ⇄ canonical, without a server or a model.
@Suite struct OllamaAdapterTests {
    let traits = OllamaTest.traits

    // MARK: Requests → canonical

    @Test func chatRequestMapsMessagesToolsAndOptions() throws {
        let wire = try OllamaTest.decode(
            OllamaChatRequest.self,
            #"""
            {"model": "m", "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": "", "thinking": "They want weather.",
                 "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}}]},
                {"role": "tool", "content": "18C", "tool_name": "get_weather"}
             ],
             "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather now",
                        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
             "options": {"temperature": 0.2, "top_k": 20, "top_p": 0.9, "min_p": 0.05, "repeat_penalty": 1.1,
                         "repeat_last_n": 32, "frequency_penalty": 0.5, "presence_penalty": 0.25, "seed": 42,
                         "num_predict": 64, "stop": ["\n\n", "END"], "num_ctx": 4096, "num_gpu": 99, "unknown_key": 1},
             "format": "json", "stream": false}
            """#)
        let request = try OllamaAdapter.chatRequest(wire, for: traits)
        let expected = GenerationRequest(
            input: .messages([
                .system("Be brief."),
                .user("Weather in Paris?"),
                ChatMessage(
                    role: .assistant, text: "",
                    toolCalls: [ToolCall(id: "call_0", name: "get_weather", arguments: #"{"city":"Paris","days":2}"#)]),
                ChatMessage(role: .tool, text: "18C", toolResult: ToolResultReference(name: "get_weather")),
            ]),
            sampling: Sampling(
                temperature: 0.2, topK: 20, topP: 0.9, minP: 0.05, repeatPenalty: 1.1, repeatLastN: 32, frequencyPenalty: 0.5,
                presencePenalty: 0.25, seed: 42),
            maxTokens: 64, stop: ["\n\n", "END"],
            tools: [
                ToolDefinition(
                    name: "get_weather", description: "Weather now",
                    parameters: #"{"properties":{"city":{"type":"string"}},"required":["city"],"type":"object"}"#)
            ],
            responseFormat: ResponseFormat(kind: .jsonObject))
        #expect(request == expected)
        // The canonical request as the worker receives it.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let canonical = String(decoding: try encoder.encode(request.sampling), as: UTF8.self)
        #expect(
            canonical
                == #"{"frequencyPenalty":0.5,"minP":0.05,"presencePenalty":0.25,"repeatLastN":32,"repeatPenalty":1.1,"seed":42,"#
                + #""temperature":0.2,"topK":20,"topP":0.9}"#)
    }

    @Test func numPredictNegativeMeansNoLimitAndAbsentTakesTheModelDefault() throws {
        let limited = OllamaModelTraits(name: "m", capabilities: [.completion], maxTokens: 256)
        func maxTokens(_ options: String) throws -> Int? {
            let wire = try OllamaTest.decode(
                OllamaGenerateRequest.self, #"{"model": "m", "prompt": "hi", "options": \#(options)}"#)
            return try OllamaAdapter.generateRequest(wire, for: limited).maxTokens
        }
        #expect(try maxTokens("{}") == 256)
        #expect(try maxTokens(#"{"num_predict": -1}"#) == nil)
        #expect(try maxTokens(#"{"num_predict": -2}"#) == nil)
        #expect(try maxTokens(#"{"num_predict": 7}"#) == 7)
        #expect(try maxTokens(#"{"num_predict": 7.0}"#) == 7)
        #expect(throws: OllamaAdapterError.invalid("option 'num_predict' must be positive, or -1 for no limit")) {
            try maxTokens(#"{"num_predict": 0}"#)
        }
    }

    @Test func optionsRefuseWrongTypesAndMapSeedMirostatAndStop() throws {
        #expect(throws: OllamaAdapterError.invalid("option 'top_k' must be an integer")) {
            try OllamaOptions(["top_k": .string("40")])
        }
        #expect(throws: OllamaAdapterError.invalid("option 'top_k' must be an integer")) {
            try OllamaOptions(["top_k": .number(4.5)])
        }
        #expect(throws: OllamaAdapterError.invalid("option 'temperature' must be a number")) {
            try OllamaOptions(["temperature": .bool(true)])
        }
        #expect(throws: OllamaAdapterError.invalid("option 'mirostat' must be 0, 1 or 2")) {
            try OllamaOptions(["mirostat": .number(3)])
        }
        #expect(try OllamaOptions(["seed": .number(-1)]).sampling.seed == nil)
        #expect(try OllamaOptions(["seed": .number(4_294_967_297)]).sampling.seed == 1)
        #expect(try OllamaOptions(["stop": .string("###")]).stop == ["###"])
        #expect(try OllamaOptions(["temperature": .null]).sampling.temperature == nil)
        let mirostat = try OllamaOptions(["mirostat": .number(2), "mirostat_tau": .number(3), "mirostat_eta": .number(0.2)])
        #expect(mirostat.sampling.mirostat == Sampling.Mirostat(version: 2, tau: 3, eta: 0.2))
        #expect(try OllamaOptions(["mirostat": .number(0)]).sampling.mirostat == nil)
        // num_ctx is accepted but never changes the request: the manifest sets the context.
        #expect(try OllamaOptions(["num_ctx": .number(131_072)]).numCtx == 131_072)
        #expect(throws: OllamaAdapterError.invalid("option 'num_ctx' must be positive")) {
            try OllamaOptions(["num_ctx": .number(0)])
        }
    }

    @Test func generateMapsSystemRawAndRefusesWhatItCannotHonour() throws {
        func request(_ json: String, traits: OllamaModelTraits = OllamaTest.traits) throws -> GenerationRequest {
            try OllamaAdapter.generateRequest(try OllamaTest.decode(OllamaGenerateRequest.self, json), for: traits)
        }
        #expect(
            try request(#"{"model": "m", "prompt": "Hi", "system": "Be kind."}"#).input
                == .messages([.system("Be kind."), .user("Hi")]))
        #expect(try request(#"{"model": "m", "prompt": "<|im_start|>user", "raw": true}"#).input == .prompt("<|im_start|>user"))
        #expect(try request(#"{"model": "m", "prompt": "x", "context": []}"#).input == .messages([.user("x")]))
        let refusals: [(String, String)] = [
            (#"{"model": "m", "prompt": "x", "suffix": "y"}"#, "'suffix' (fill-in-the-middle) is not supported by this server"),
            (
                #"{"model": "m", "prompt": "x", "template": "{{ .Prompt }}"}"#,
                "'template' is not supported: the model's own chat template is always used (or none with raw)"
            ),
            (
                #"{"model": "m", "prompt": "x", "context": [1, 2, 3]}"#,
                "'context' is not supported; send the conversation to /api/chat as messages instead"
            ),
            (
                #"{"model": "m", "prompt": "x", "raw": true, "system": "s"}"#,
                "'system' has no effect with raw: true; put it in the prompt"
            ),
            (#"{"model": "m", "prompt": "x", "images": ["aGVsbG8="]}"#, "model 'm' does not support images ('images')"),
            (#"{"model": "m", "prompt": "x", "top_logprobs": 2}"#, "'top_logprobs' needs 'logprobs': true"),
            (#"{"model": "m", "prompt": "x", "logprobs": true, "top_logprobs": 21}"#, "'top_logprobs' must be between 0 and 20"),
            (#"{"model": "m", "prompt": "x", "think": true}"#, "model 'm' does not support thinking ('think')"),
            (#"{"model": "m", "prompt": "x", "format": "yaml"}"#, "'format' must be \"json\" or a JSON schema object"),
        ]
        for (json, message) in refusals {
            #expect(throws: OllamaAdapterError.invalid(message)) { try request(json) }
        }
        let vision = OllamaModelTraits(name: "v", capabilities: [.completion, .vision])
        #expect(
            try request(
                #"{"model": "v", "prompt": "What is it?", "images": ["iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="]}"#,
                traits: vision
            ).input
                == .messages([
                    ChatMessage(
                        role: .user, text: "What is it?", images: [ImageInput(data: Data(base64Encoded: OpenAITest.onePixelPNG)!)]
                    )
                ]))
    }

    @Test func formatSchemaAndThinkLevels() throws {
        let schema = try OllamaAdapter.responseFormat(
            try OllamaTest.decode(JSONValue.self, #"{"type": "object", "properties": {"age": {"type": "integer"}}}"#))
        #expect(
            schema == ResponseFormat(kind: .jsonSchema, schema: #"{"properties":{"age":{"type":"integer"}},"type":"object"}"#))
        #expect(try OllamaAdapter.responseFormat(.string("")) == nil)
        let thinker = OllamaModelTraits(name: "q", capabilities: [.completion, .thinking])
        #expect(try OllamaAdapter.thinking(.enabled(true), thinker) == true)
        #expect(try OllamaAdapter.thinking(.level("high"), thinker) == true)
        #expect(try OllamaAdapter.thinking(.enabled(false), traits) == false)
        #expect(try OllamaAdapter.thinking(nil, traits) == nil)
        #expect(throws: OllamaAdapterError.self) { try OllamaAdapter.thinking(.level("extreme"), thinker) }
    }

    @Test func chatRefusesBadRolesImagesWithoutVisionAndToolsWithoutCapability() throws {
        func request(_ json: String, traits: OllamaModelTraits = OllamaTest.traits) throws -> GenerationRequest {
            try OllamaAdapter.chatRequest(try OllamaTest.decode(OllamaChatRequest.self, json), for: traits)
        }
        #expect(throws: OllamaAdapterError.invalid("messages[0].role must be system, user, assistant or tool (got 'robot')")) {
            try request(#"{"model": "m", "messages": [{"role": "robot", "content": "x"}]}"#)
        }
        #expect(throws: OllamaAdapterError.invalid("model 'm' does not support images ('images')")) {
            try request(#"{"model": "m", "messages": [{"role": "user", "content": "x", "images": ["aGVsbG8="]}]}"#)
        }
        let plain = OllamaModelTraits(name: "p", capabilities: [.completion])
        #expect(throws: OllamaAdapterError.invalid("model 'p' does not support tools ('tools')")) {
            try request(
                #"{"model": "p", "messages": [], "tools": [{"type": "function", "function": {"name": "f"}}]}"#, traits: plain)
        }
    }

    @Test func keepAliveDurations() throws {
        #expect(OllamaDuration.parse("5m") == 300)
        #expect(OllamaDuration.parse("1h30m") == 5400)
        #expect(OllamaDuration.parse("300ms") == 0.3)
        #expect(OllamaDuration.parse("0") == 0)
        #expect(OllamaDuration.parse("-1m") == -60)
        #expect(OllamaDuration.parse("soon") == nil)
        #expect(try OllamaAdapter.keepAlive(.seconds(0)) == .unloadAfterUse)
        #expect(try OllamaAdapter.keepAlive(.text("0s")) == .unloadAfterUse)
        #expect(try OllamaAdapter.keepAlive(.seconds(-1)) == .forever)
        #expect(try OllamaAdapter.keepAlive(.text("10m")) == .duration(.seconds(600)))
        #expect(try OllamaAdapter.keepAlive(.seconds(1.5)) == .duration(.milliseconds(1500)))
        #expect(try OllamaAdapter.keepAlive(nil) == nil)
        #expect(try OllamaAdapter.keepAlive(.seconds(1e300)) == .forever, "too long for the clock: kept")
        #expect(try OllamaAdapter.keepAlive(.text("1e400")) == .forever)
        #expect(throws: OllamaAdapterError.self) { try OllamaAdapter.keepAlive(.text("forever")) }
    }

    // MARK: Canonical → wire

    @Test func canonicalMessagesRoundTripWithObjectArguments() throws {
        let message = ChatMessage(
            role: .assistant, text: "",
            toolCalls: [ToolCall(id: "call_0", name: "get_weather", arguments: #"{"city":"Paris","days":2}"#)])
        let wire = OllamaAdapter.wireMessage(message)
        #expect(
            OllamaTest.golden(wire)
                == #"{"content":"","role":"assistant","tool_calls":[{"function":{"arguments":{"city":"Paris","days":2},"#
                + #""index":0,"name":"get_weather"},"id":"call_0"}]}"#)
        #expect(try OllamaAdapter.chatMessage(wire, at: 0) == message)
        let tool = ChatMessage(role: .tool, text: "18C", toolResult: ToolResultReference(callID: "call_0", name: "get_weather"))
        #expect(try OllamaAdapter.chatMessage(OllamaAdapter.wireMessage(tool), at: 0) == tool)
        let image = ChatMessage(role: .user, text: "see", images: [ImageInput(data: Data([0x89, 0x50, 0x4e, 0x47]))])
        #expect(OllamaTest.golden(OllamaAdapter.wireMessage(image)) == #"{"content":"see","images":["iVBORw=="],"role":"user"}"#)
        #expect(try OllamaAdapter.chatMessage(OllamaAdapter.wireMessage(image), at: 0) == image)
    }

    @Test func eventsBecomeChatChunksAndAFinalObjectWithDurationsFromTimings() throws {
        var mapper = OllamaEventMapper()
        let date = Date(timeIntervalSince1970: 1_700_000_000.25)
        let completion = Completion(
            reason: .length, usage: Usage(promptTokens: 12, completionTokens: 5, cachedPromptTokens: 4),
            timings: Timings(queueMs: 1.5, loadMs: 2, prefillMs: 30.25, prefillTokens: 8, decodeMs: 80, decodeTokens: 4))
        var objects: [String] = []
        let events: [GenerationEvent] = [
            .text("Hmm", channel: .reasoning), .text("Hi", channel: .content),
            .toolCall(ToolCall(id: "call_0", name: "f", arguments: #"{"x":1}"#)),
            .toolCall(ToolCall(id: "call_1", name: "g", arguments: "not json")), .done(completion),
        ]
        for event in events {
            switch mapper.step(event, total: .milliseconds(150)) {
            case .delta(let delta):
                objects.append(OllamaTest.golden(OllamaAdapter.chatResponse(model: "m", delta: delta, at: date)))
            case .end(let ending):
                objects.append(
                    OllamaTest.golden(OllamaAdapter.chatResponse(model: "m", delta: OllamaDelta(), ending: ending, at: date)))
            }
        }
        let stamp = #""created_at":"2023-11-14T22:13:20.250Z""#
        #expect(
            objects == [
                #"{\#(stamp),"done":false,"message":{"content":"","role":"assistant","thinking":"Hmm"},"model":"m"}"#,
                #"{\#(stamp),"done":false,"message":{"content":"Hi","role":"assistant"},"model":"m"}"#,
                #"{\#(stamp),"done":false,"message":{"content":"","role":"assistant","tool_calls":[{"function":{"arguments":{"x":1},"#
                    + #""index":0,"name":"f"},"id":"call_0"}]},"model":"m"}"#,
                #"{\#(stamp),"done":false,"message":{"content":"","role":"assistant","tool_calls":[{"function":{"arguments":"not json","#
                    + #""index":1,"name":"g"},"id":"call_1"}]},"model":"m"}"#,
                #"{\#(stamp),"done":true,"done_reason":"length","eval_count":5,"eval_duration":80000000,"load_duration":3500000,"#
                    + #""message":{"content":"","role":"assistant"},"model":"m","prompt_eval_count":12,"#
                    + #""prompt_eval_duration":30250000,"total_duration":150000000}"#,
            ])
    }

    @Test func generateObjectsAndFailures() throws {
        let date = Date(timeIntervalSince1970: 1_700_000_000)
        var mapper = OllamaEventMapper()
        guard case .delta(let delta) = mapper.step(.text("Once", channel: .content), total: .zero) else {
            Issue.record("a text event is a delta")
            return
        }
        #expect(
            OllamaTest.golden(OllamaAdapter.generateResponse(model: "m", delta: delta, at: date))
                == #"{"created_at":"2023-11-14T22:13:20.000Z","done":false,"model":"m","response":"Once"}"#)
        let failed = mapper.step(
            .done(Completion(reason: .error, error: EngineError(.decodeFailed, "llama_decode returned -1"))), total: .zero)
        #expect(failed == .end(.failed(status: 500, message: "llama_decode returned -1")))
        let stop = OllamaAdapter.ending(Completion(reason: .stop), total: .seconds(1))
        #expect(
            OllamaTest.golden(OllamaAdapter.generateResponse(model: "m", delta: OllamaDelta(), ending: stop, at: date))
                == #"{"created_at":"2023-11-14T22:13:20.000Z","done":true,"done_reason":"stop","eval_count":0,"eval_duration":0,"#
                + #""load_duration":0,"model":"m","prompt_eval_count":0,"prompt_eval_duration":0,"response":"","#
                + #""total_duration":1000000000}"#)
    }

    // MARK: Models

    @Test func tagsShowAndPsDescribeServedModels() throws {
        let model = OllamaTest.model(
            defaults: Sampling(temperature: 0.7, topK: 40), maxTokens: 512, digest: "sha256:" + String(repeating: "ab", count: 32)
        )
        #expect(
            OllamaTest.golden(OllamaModels.tags([model]))
                == #"{"models":[{"capabilities":["completion","tools"],"details":{"families":["llama"],"family":"llama","#
                + #""format":"gguf","parameter_size":"135M","parent_model":"","quantization_level":"Q4_1"},"#
                + #""digest":"\#(String(repeating: "ab", count: 32))","model":"smollm2-135m-instruct:latest","#
                + #""modified_at":"2023-11-14T22:13:20.000Z","name":"smollm2-135m-instruct:latest","size":100000000}]}"#)
        let show = OllamaModels.show(model)
        #expect(
            OllamaTest.golden(show.modelInfo)
                == #"{"general.architecture":"llama","general.basename":"smollm2-135m-instruct","#
                + #""general.parameter_count":135000000,"llama.context_length":2048}"#)
        #expect(
            show.parameters
                == [
                    "num_ctx                        2048", "num_predict                    512",
                    "temperature                    0.7", "top_k                          40",
                ].joined(separator: "\n"))
        #expect(show.modelfile.contains("FROM smollm2-135m-instruct:latest\nPARAMETER num_ctx"))
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let ps = OllamaModels.ps([(model, 180 << 20, nil), (model, 180 << 20, now.addingTimeInterval(300))], now: now)
        #expect(ps.models.first?.expiresAt.hasPrefix("2316-") == true, "kept: Ollama's keep_alive -1")
        #expect(ps.models.last?.expiresAt.hasPrefix("2023-11-14T22:18:20") == true, "\(ps.models.last?.expiresAt ?? "")")
        #expect(ps.models.first?.contextLength == 2048)
        #expect(ps.models.first?.size == 180 << 20)
        #expect(ps.models.first?.sizeVRAM == 0)
    }

    @Test func digestWithoutAFileHashIsStableHex() {
        let digest = OllamaModels.digest(OllamaTest.model())
        #expect(digest.count == 64)
        let isHex = digest.allSatisfy { $0.isHexDigit }
        #expect(isHex)
        #expect(digest == OllamaModels.digest(OllamaTest.model()))
        #expect(digest != OllamaModels.digest(OllamaTest.model(name: "other")))
        #expect(OllamaModels.parameterCount("1.5B") == 1_500_000_000)
        #expect(OllamaModels.parameterCount("") == nil)
    }

    @Test func pullProgressEndsWithSuccess() {
        let lines = OllamaModelRoutes.pullProgress(OllamaTest.model(digest: String(repeating: "0", count: 64))).map(
            OllamaTest.golden)
        #expect(
            lines == [
                #"{"status":"pulling manifest"}"#,
                #"{"completed":100000000,"digest":"sha256:\#(String(repeating: "0", count: 64))","status":"pulling 000000000000","total":100000000}"#,
                #"{"status":"verifying sha256 digest"}"#, #"{"status":"writing manifest"}"#, #"{"status":"success"}"#,
            ])
    }
}
