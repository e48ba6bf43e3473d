import Engine
import Foundation
import Hummingbird
import Testing

@testable import Gateway

/// The OpenAI adapter on its own: wire requests to canonical requests, canonical events to wire answers,
/// compared as golden JSON with sorted keys.
@Suite struct OpenAIAdapterTests {
    // MARK: Requests → canonical

    @Test func theManifestsMaxTokensAppliesWhenTheRequestSetsNone() throws {
        let limited = OpenAIAdapter.ModelTraits(name: "m", capabilities: [.completion], maxTokens: 256)
        let chat = #"{"model": "m", "messages": [{"role": "user", "content": "Hi!"}]}"#
        #expect(try OpenAITest.chat(chat, model: limited).maxTokens == 256)
        #expect(
            try OpenAITest.chat(chat.replacingOccurrences(of: "{\"model", with: "{\"max_tokens\": 9, \"model"), model: limited)
                .maxTokens == 9)
        let completion = try OpenAITest.decode(OpenAICompletionRequest.self, #"{"model": "m", "prompt": "Once"}"#)
        #expect(try OpenAIAdapter.generationRequest(completion, model: limited).maxTokens == 256)
    }

    @Test func chatRequestTranslatesEveryField() throws {
        let request = try OpenAITest.chat(
            #"""
            {"model": "smollm2", "messages": [
              {"role": "developer", "content": "Be brief."},
              {"role": "user", "content": [{"type": "text", "text": "Weather in"}, {"type": "text", "text": "Paris?"}]},
              {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]},
              {"role": "tool", "tool_call_id": "call_1", "content": "18C"}],
             "temperature": 0.5, "top_p": 0.9, "seed": 42, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1,
             "frequency_penalty": 0.5, "presence_penalty": -0.5, "max_tokens": 10, "max_completion_tokens": 20,
             "stop": "END", "tool_choice": "auto", "reasoning_effort": "none", "response_format": {"type": "json_object"},
             "tools": [{"type": "function", "function": {"name": "weather", "description": "Weather now",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
             "user": "someone", "metadata": {"a": "b"}, "parallel_tool_calls": true, "stream_options": {"include_usage": true}}
            """#)
        #expect(
            try OpenAITest.canonical(request)
                == #"{"maxTokens":20,"messages":[{"role":"system","text":"Be brief."},"#
                + #"{"role":"user","text":"Weather in\nParis?"},"#
                + #"{"role":"assistant","text":"","toolCalls":[{"arguments":"{\"city\":\"Paris\"}","id":"call_1","name":"weather"}]},"#
                + #"{"role":"tool","text":"18C","toolResult":{"callID":"call_1"}}],"responseFormat":{"kind":"jsonObject"},"#
                + #""sampling":{"frequencyPenalty":0.5,"minP":0.05,"presencePenalty":-0.5,"repeatPenalty":1.1,"seed":42,"#
                + #""temperature":0.5,"topK":40,"topP":0.9},"stop":["END"],"thinking":false,"#
                + #""tools":[{"description":"Weather now","name":"weather","#
                + #""parameters":"{\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"],\"type\":\"object\"}"}]}"#
        )
    }

    @Test func minimalChatRequestLeavesDefaultsToTheModel() throws {
        let request = try OpenAITest.chat(#"{"model": "m", "messages": [{"role": "user", "content": "Hi"}]}"#)
        #expect(try OpenAITest.canonical(request) == #"{"messages":[{"role":"user","text":"Hi"}],"sampling":{}}"#)
    }

    @Test func lenientForms() throws {
        // Whole numbers sent as doubles, stop as a list (empty strings dropped), arguments sent as an object,
        // image_url as a bare string on a vision model, the deprecated function role.
        let request = try OpenAITest.chat(
            #"""
            {"model": "v", "max_tokens": 16.0, "seed": -1, "stop": ["a", "", "b"], "n": 1, "logprobs": false,
             "messages": [
              {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                           {"type": "image_url", "image_url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="}]},
              {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]},
              {"role": "function", "name": "f", "content": "done"}]}
            """#, model: OpenAITest.visionModel)
        #expect(request.maxTokens == 16)
        #expect(request.sampling.seed == UInt32.max)
        #expect(request.stop == ["a", "b"])
        guard case .messages(let messages) = request.input else {
            Issue.record("expected messages")
            return
        }
        #expect(messages[0].images == [ImageInput(data: Data(base64Encoded: OpenAITest.onePixelPNG)!, mimeType: "image/png")])
        #expect(messages[1].toolCalls == [ToolCall(id: "call_0", name: "f", arguments: #"{"x":1}"#)])
        #expect(messages[2] == ChatMessage(role: .tool, text: "done", toolResult: ToolResultReference(name: "f")))
    }

    @Test func toolChoiceSelectsTools() throws {
        let tools =
            #""tools": [{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "b"}}]"#
        let messages = #""messages": [{"role": "user", "content": "x"}]"#
        #expect(try OpenAITest.chat(#"{"model": "m", \#(messages), \#(tools)}"#).tools.map(\.name) == ["a", "b"])
        #expect(try OpenAITest.chat(#"{"model": "m", \#(messages), \#(tools), "tool_choice": "none"}"#).tools.isEmpty)
        let required = try OpenAITest.chat(#"{"model": "m", \#(messages), \#(tools), "tool_choice": "required"}"#)
        #expect(required.tools.count == 2 && required.toolChoice == .required)
        let named = try OpenAITest.chat(
            #"{"model": "m", \#(messages), \#(tools), "tool_choice": {"type": "function", "function": {"name": "b"}}}"#)
        #expect(named.tools == [ToolDefinition(name: "b", parameters: #"{"type":"object","properties":{}}"#)])
        #expect(named.toolChoice == .function("b"))
        // `parallel_tool_calls: false` reaches the engine, and crosses the worker API.
        let single = try OpenAITest.chat(
            #"{"model": "m", \#(messages), \#(tools), "tool_choice": "required", "parallel_tool_calls": false}"#)
        #expect(!single.parallelToolCalls && required.parallelToolCalls)
        let crossed = try JSONDecoder().decode(GenerationRequest.self, from: JSONEncoder().encode(single))
        #expect(!crossed.parallelToolCalls && crossed == single)
        let missing = OpenAITest.refusal {
            try OpenAITest.chat(
                #"{"model": "m", \#(messages), \#(tools), "tool_choice": {"type": "function", "function": {"name": "c"}}}"#)
        }
        #expect(missing?.param == "tool_choice")
        let noTools = OpenAITest.refusal {
            try OpenAITest.chat(#"{"model": "v", \#(messages), \#(tools)}"#, model: OpenAITest.visionModel)
        }
        #expect(noTools?.param == "tools")
        #expect(noTools?.message.contains("does not support tools") == true)
    }

    @Test func responseFormats() throws {
        func format(_ json: String) throws -> ResponseFormat? {
            try OpenAITest.chat(#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": \#(json)}"#)
                .responseFormat
        }
        #expect(try format(#"{"type": "text"}"#) == nil)
        #expect(try format(#"{"type": "json_object"}"#) == ResponseFormat(kind: .jsonObject))
        #expect(
            try format(#"{"type": "json_schema", "json_schema": {"name": "n", "strict": true, "schema": {"type": "object"}}}"#)
                == ResponseFormat(kind: .jsonSchema, schema: #"{"type":"object"}"#))
        #expect(
            try format(#"{"type": "json_object", "schema": {"type": "object", "minProperties": 1}}"#)
                == ResponseFormat(kind: .jsonSchema, schema: #"{"minProperties":1,"type":"object"}"#))
        #expect(OpenAITest.refusal { try format(#"{"type": "json_schema"}"#) }?.param == "response_format.json_schema")
        #expect(OpenAITest.refusal { try format(#"{"type": "yaml"}"#) }?.param == "response_format.type")
    }

    @Test func thinkingSwitches() throws {
        func thinking(_ extra: String) throws -> Bool? {
            try OpenAITest.chat(#"{"model": "m", "messages": [{"role": "user", "content": "x"}]\#(extra)}"#).thinking
        }
        #expect(try thinking("") == nil)
        #expect(try thinking(#", "reasoning_effort": "none""#) == false)
        #expect(try thinking(#", "reasoning_effort": "low""#) == true)
        #expect(try thinking(#", "chat_template_kwargs": {"enable_thinking": false}"#) == false)
    }

    @Test(arguments: [
        (#""n": 2"#, "n", "unsupported_parameter"),
        (#""n": 0"#, "n", "invalid_request"),
        (#""logprobs": true, "top_logprobs": 21"#, "top_logprobs", "invalid_request"),
        (#""top_logprobs": 2"#, "top_logprobs", "invalid_request"),
        (#""logit_bias": {"50256": -100}"#, "logit_bias", "unsupported_parameter"),
        (#""temperature": -1"#, "temperature", "invalid_request"),
        (#""top_p": 1.5"#, "top_p", "invalid_request"),
        (#""presence_penalty": 3"#, "presence_penalty", "invalid_request"),
        (#""max_tokens": 0"#, "max_tokens", "invalid_request"),
        (#""tools": [{"type": "retrieval", "function": {"name": "x"}}]"#, "tools[0].type", "unsupported_parameter"),
    ])
    func chatRefusals(field: String, param: String, code: String) {
        let error = OpenAITest.refusal {
            try OpenAITest.chat(#"{"model": "m", "messages": [{"role": "user", "content": "x"}], \#(field)}"#)
        }
        #expect(error?.status == .badRequest)
        #expect(error?.param == param)
        #expect(error?.code == code)
    }

    @Test func messageRefusals() {
        func refusal(_ message: String, model: OpenAIAdapter.ModelTraits = OpenAITest.chatModel) -> APIError? {
            OpenAITest.refusal { try OpenAITest.chat(#"{"model": "m", "messages": [\#(message)]}"#, model: model) }
        }
        let image = #"{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}}"#
        let noVision = refusal(#"{"role": "user", "content": [\#(image)]}"#)
        #expect(noVision?.param == "messages[0].content")
        #expect(noVision?.message == "model 'm' does not take images; send text only")
        let remote = refusal(
            #"{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}"#,
            model: OpenAITest.visionModel)
        #expect(remote?.message.contains("data: URI") == true)
        #expect(
            refusal(#"{"role": "system", "content": [\#(image)]}"#, model: OpenAITest.visionModel)?.param == "messages[0].content"
        )
        #expect(
            refusal(#"{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}"#)?.code
                == "unsupported_parameter")
        #expect(refusal(#"{"role": "robot", "content": "x"}"#)?.param == "messages[0].role")
        #expect(OpenAITest.refusal { try OpenAITest.chat(#"{"model": "m", "messages": []}"#) }?.param == "messages")
    }

    @Test func completionRequests() throws {
        func completion(_ json: String) throws -> GenerationRequest {
            try OpenAIAdapter.generationRequest(OpenAITest.decode(OpenAICompletionRequest.self, json), model: nil)
        }
        let request = try completion(
            #"{"model": "m", "prompt": ["Once upon"], "max_tokens": 5, "stop": ["\n"], "temperature": 0, "echo": false}"#)
        #expect(
            try OpenAITest.canonical(request)
                == #"{"maxTokens":5,"prompt":"Once upon","sampling":{"temperature":0},"stop":["\n"],"thinking":false}"#)
        for (field, param) in [
            (#""prompt": ["a", "b"]"#, "prompt"), (#""prompt": [1, 2, 3]"#, "prompt"), (#""prompt": [[1], [2]]"#, "prompt"),
            (#""prompt": "a", "echo": true"#, "echo"), (#""prompt": "a", "suffix": "z""#, "suffix"),
            (#""prompt": "a", "best_of": 2"#, "best_of"), (#""prompt": "a", "n": 3"#, "n"),
            (#""prompt": "a", "logprobs": 6"#, "logprobs"), (#""max_tokens": 3"#, "prompt"),
        ] {
            let error = OpenAITest.refusal { try completion(#"{"model": "m", \#(field)}"#) }
            #expect(error?.status == .badRequest, "\(field)")
            #expect(error?.param == param, "\(field)")
        }
    }

    @Test func embeddingInputs() throws {
        func inputs(_ json: String) throws -> (texts: [String], encoding: OpenAIAdapter.EmbeddingEncoding) {
            try OpenAIAdapter.embeddingInputs(OpenAITest.decode(OpenAIEmbeddingsRequest.self, json))
        }
        #expect(try inputs(#"{"model": "m", "input": "a"}"#) == (["a"], .float))
        #expect(try inputs(#"{"model": "m", "input": ["a", "b"], "encoding_format": "base64"}"#) == (["a", "b"], .base64))
        for (json, param) in [
            (#"{"model": "m", "input": [1, 2]}"#, "input"), (#"{"model": "m", "input": [[1], [2]]}"#, "input"),
            (#"{"model": "m", "input": []}"#, "input"), (#"{"model": "m", "input": ["a", ""]}"#, "input[1]"),
            (#"{"model": "m", "input": "a", "dimensions": 8}"#, "dimensions"),
            (#"{"model": "m", "input": "a", "encoding_format": "int8"}"#, "encoding_format"),
        ] {
            #expect(OpenAITest.refusal { try inputs(json) }?.param == param, "\(json)")
        }
        #expect(throws: DecodingError.self) { try inputs(#"{"model": "m", "input": {"a": 1}}"#) }
    }

    // MARK: Canonical → answers

    @Test func chatCompletionWithReasoningAndUsage() throws {
        var answer = OpenAICollectedAnswer()
        for event: GenerationEvent in [
            .text("Let me ", channel: .reasoning), .text("think.", channel: .reasoning), .text("Hello", channel: .content),
            .text("!", channel: .content),
            .done(Completion(reason: .stop, usage: Usage(promptTokens: 10, completionTokens: 3, cachedPromptTokens: 4))),
        ] { answer.add(event) }
        #expect(
            try OpenAITest.golden(OpenAIAdapter.chatCompletion(answer, OpenAITest.envelope))
                == #"{"choices":[{"finish_reason":"stop","index":0,"logprobs":null,"message":{"content":"Hello!","#
                + #""reasoning_content":"Let me think.","role":"assistant"}}],"created":1700000000,"id":"chatcmpl-abc","#
                + #""model":"smollm2","object":"chat.completion","system_fingerprint":"fp","#
                + #""usage":{"completion_tokens":3,"prompt_tokens":10,"prompt_tokens_details":{"cached_tokens":4},"total_tokens":13}}"#
        )
    }

    @Test func chatCompletionWithToolCallsOnly() throws {
        var answer = OpenAICollectedAnswer()
        answer.add(.toolCall(ToolCall(id: "call_0", name: "weather", arguments: #"{"city":"Paris"}"#)))
        answer.add(.done(Completion(reason: .stop, usage: Usage(promptTokens: 5, completionTokens: 9))))
        #expect(
            try OpenAITest.golden(OpenAIAdapter.chatCompletion(answer, OpenAITest.envelope))
                == #"{"choices":[{"finish_reason":"tool_calls","index":0,"logprobs":null,"message":{"content":null,"#
                + #""role":"assistant","tool_calls":[{"function":{"arguments":"{\"city\":\"Paris\"}","name":"weather"},"#
                + #""id":"call_abc_0","type":"function"}]}}],"created":1700000000,"id":"chatcmpl-abc","model":"smollm2","#
                + #""object":"chat.completion","system_fingerprint":"fp","#
                + #""usage":{"completion_tokens":9,"prompt_tokens":5,"prompt_tokens_details":{"cached_tokens":0},"total_tokens":14}}"#
        )
    }

    @Test func failedGenerationsBecomeErrors() {
        var answer = OpenAICollectedAnswer()
        answer.add(.done(Completion(reason: .error, error: EngineError(.decodeFailed, "llama_decode returned 1"))))
        let failed = OpenAITest.refusal { try OpenAIAdapter.chatCompletion(answer, OpenAITest.envelope) }
        #expect(failed?.status == .internalServerError)
        #expect(
            String(decoding: failed?.bodyData ?? Data(), as: UTF8.self)
                == #"{"error":{"code":"decode_failed","message":"llama_decode returned 1","param":null,"type":"server_error"}}"#)
        let empty = OpenAITest.refusal { try OpenAIAdapter.chatCompletion(OpenAICollectedAnswer(), OpenAITest.envelope) }
        #expect(empty?.status == .internalServerError)
        answer.add(.done(Completion(reason: .cancelled)))
        #expect(
            OpenAITest.refusal { try OpenAIAdapter.chatCompletion(answer, OpenAITest.envelope) }?.status == .serviceUnavailable)
        #expect(OpenAIAdapter.failure(thrown: CancellationError()).status == .serviceUnavailable)
        #expect(OpenAIAdapter.failure(thrown: EngineError(.promptTooLong, "long")).status == .badRequest)
    }

    @Test func chatStreamChunks() throws {
        var transcoder = OpenAIChatStreamTranscoder(envelope: OpenAITest.envelope, includeUsage: true)
        var lines = [try OpenAITest.golden(try #require(transcoder.opening()))]
        for event: GenerationEvent in [
            .text("Hmm", channel: .reasoning), .text("", channel: .content), .text("Hi", channel: .content),
            .toolCall(ToolCall(id: "call_0", name: "f", arguments: "{}")),
            .done(Completion(reason: .stop, usage: Usage(promptTokens: 7, completionTokens: 2, cachedPromptTokens: 0))),
        ] {
            for item in transcoder.items(for: event) {
                guard case .chunk(let chunk) = item else {
                    Issue.record("unexpected error item")
                    continue
                }
                lines.append(try OpenAITest.golden(chunk))
            }
        }
        let tail =
            #""created":1700000000,"id":"chatcmpl-abc","model":"smollm2","object":"chat.completion.chunk","system_fingerprint":"fp","#
        func choice(_ delta: String, _ finish: String = "null") -> String {
            #"{"choices":[{"delta":\#(delta),"finish_reason":\#(finish),"index":0,"logprobs":null}],\#(tail)"usage":null}"#
        }
        #expect(
            lines == [
                choice(#"{"content":"","role":"assistant"}"#),
                choice(#"{"reasoning_content":"Hmm"}"#),
                choice(#"{"content":"Hi"}"#),
                choice(
                    #"{"tool_calls":[{"function":{"arguments":"{}","name":"f"},"id":"call_abc_0","index":0,"type":"function"}]}"#),
                choice("{}", #""tool_calls""#),
                #"{"choices":[],\#(tail)"usage":{"completion_tokens":2,"prompt_tokens":7,"#
                    + #""prompt_tokens_details":{"cached_tokens":0},"total_tokens":9}}"#,
            ])
    }

    @Test func chatStreamWithoutUsageOmitsIt() throws {
        var transcoder = OpenAIChatStreamTranscoder(envelope: OpenAITest.envelope, includeUsage: false)
        let items = transcoder.items(for: .done(Completion(reason: .length)))
        #expect(items.count == 1)
        guard case .chunk(let chunk)? = items.first else {
            Issue.record("expected one chunk, got \(items)")
            return
        }
        #expect(
            try OpenAITest.golden(chunk)
                == #"{"choices":[{"delta":{},"finish_reason":"length","index":0,"logprobs":null}],"created":1700000000,"#
                + #""id":"chatcmpl-abc","model":"smollm2","object":"chat.completion.chunk","system_fingerprint":"fp"}"#)
        let failed = transcoder.items(for: .done(Completion(reason: .error, error: EngineError(.decodeFailed, "boom"))))
        guard case .error(let error)? = failed.first, failed.count == 1 else {
            Issue.record("expected one error item, got \(failed)")
            return
        }
        #expect(error.message == "boom")
    }

    @Test func textCompletionAndItsStream() throws {
        let envelope = OpenAIEnvelope(id: "cmpl-xyz", created: 1_700_000_000, model: "m", systemFingerprint: "fp")
        var answer = OpenAICollectedAnswer()
        answer.add(.text(" there", channel: .content))
        answer.add(.done(Completion(reason: .length, usage: Usage(promptTokens: 2, completionTokens: 1))))
        let tail = #""created":1700000000,"id":"cmpl-xyz","model":"m","object":"text_completion","system_fingerprint":"fp","#
        #expect(
            try OpenAITest.golden(OpenAIAdapter.textCompletion(answer, envelope))
                == #"{"choices":[{"finish_reason":"length","index":0,"logprobs":null,"text":" there"}],\#(tail)"#
                + #""usage":{"completion_tokens":1,"prompt_tokens":2,"prompt_tokens_details":{"cached_tokens":0},"total_tokens":3}}"#
        )
        var transcoder = OpenAICompletionStreamTranscoder(envelope: envelope, includeUsage: false)
        #expect(transcoder.opening() == nil)
        let chunks =
            (transcoder.items(for: .text(" there", channel: .content)) + transcoder.items(for: .done(Completion(reason: .stop))))
            .compactMap { item -> OpenAITextCompletion? in
                if case .chunk(let chunk) = item { return chunk }
                return nil
            }
        #expect(
            try chunks.map(OpenAITest.golden) == [
                #"{"choices":[{"finish_reason":null,"index":0,"logprobs":null,"text":" there"}],\#(tail.dropLast())}"#,
                #"{"choices":[{"finish_reason":"stop","index":0,"logprobs":null,"text":""}],\#(tail.dropLast())}"#,
            ])
    }

    @Test func embeddingsFloatAndBase64() throws {
        let embeddings = Embeddings(vectors: [[1, -2], [0.5, 0]], promptTokens: 6)
        #expect(
            try OpenAITest.golden(OpenAIAdapter.embeddings(embeddings, model: "m", encoding: .float))
                == #"{"data":[{"embedding":[1,-2],"index":0,"object":"embedding"},{"embedding":[0.5,0],"index":1,"#
                + #""object":"embedding"}],"model":"m","object":"list","usage":{"prompt_tokens":6,"total_tokens":6}}"#)
        // 1.0 = 0x3F800000, -2.0 = 0xC0000000, little-endian.
        #expect(OpenAIAdapter.base64([1, -2]) == Data([0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0]).base64EncodedString())
        #expect(OpenAIAdapter.base64([1, -2]) == "AACAPwAAAMA=")
    }

    @Test func modelListHasNamesAndAliases() throws {
        let model = ServedModel(
            name: "qwen3-0.6b", aliases: ["qwen", "default"], engineKind: "rkllm", context: 4096,
            modifiedAt: Date(timeIntervalSince1970: 1_700_000_000), engine: OpenAITest.NoEngine())
        func entry(_ id: String) -> String {
            #"{"created":1700000000,"id":"\#(id)","object":"model","owned_by":"rockchipllama"}"#
        }
        #expect(
            try OpenAITest.golden(OpenAIAdapter.modelList([model]))
                == #"{"data":[\#(entry("qwen3-0.6b")),\#(entry("qwen")),\#(entry("default"))],"object":"list"}"#)
    }
}
