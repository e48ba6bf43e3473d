import Foundation
import TestSupport
import Testing

/// Images in chat through `runner apply`, real HTTP and a real worker: SmolLM2 with a random-weight projector
/// generated at test time (scripts/tiny-vlm.py). Its answers are fluent nonsense, so the tests check what holds
/// for any vision model: images reach the model through both APIs, the image token count is the projector's,
/// answers are deterministic at temperature 0 and differ between images, a repeated image is not encoded
/// again, and bad images are refused in each API's shape.
@Suite(.serialized)
struct VisionTests {
    let port = 18_320
    var base: String { "http://127.0.0.1:\(port)" }

    struct TinyVLM {
        var projector: String
        var imageTokens: Int
        var images: [String: String]

        func base64(_ name: String) throws -> String {
            try Data(contentsOf: URL(fileURLWithPath: images[name]!)).base64EncodedString()
        }
    }

    static let python = RunnerProcess.repository.appendingPathComponent(".deps/venv/bin/python").path
    static let generator = RunnerProcess.repository.appendingPathComponent("scripts/tiny-vlm.py").path

    func generate(in directory: URL) async throws -> TinyVLM {
        let script = try await PythonScript.run(
            Self.python, [Self.generator, directory.path, "--llm", ServedDevice.model, "--images"])
        try #require(script.status == 0, "tiny-vlm.py failed: \(script.stderr)")
        let json = try #require(script.json, "\(script.stderr)")
        return TinyVLM(
            projector: try #require(json["mmproj"] as? String), imageTokens: try #require(json["image_tokens"] as? Int),
            images: try #require(json["images"] as? [String: String]))
    }

    /// `vlm` (with the projector, two slots) and `plain` (the same model without one, loaded on demand).
    func start(_ vlm: TinyVLM, in device: ServedDevice, endpointOptions: String = "") async throws
        -> RunnerProcess.Background
    {
        let manifest = device.directory.appendingPathComponent("device.yaml")
        try """
        apiVersion: rockchipllama/v1
        kind: Device
        metadata: {name: vision}
        models:
          - name: vlm
            source: {path: \(ServedDevice.model)}
            vision: {projector: {path: \(vlm.projector)}}
            context: 1024
            llamacpp: {threads: 2, parallel: 2}
          - name: plain
            source: {path: \(ServedDevice.model)}
            context: 512
            lifecycle: {preload: false}
        endpoints:
          - {name: local, listen: "127.0.0.1:\(port)", apis: [openai, ollama, admin, metrics]\(endpointOptions)}
          - {name: strict, listen: "127.0.0.1:\(port + 3)", apis: [openai]}
        """.write(to: manifest, atomically: true, encoding: .utf8)
        let apply = try RunnerProcess.start(
            ["apply", manifest.path, "--state-dir", device.state.path, "--readiness-timeout", "120"],
            environment: ServedDevice.environment)
        try await eventually("the endpoint to be ready", timeout: .seconds(150)) {
            guard apply.process.isRunning else { return true }
            return (try? await request("\(base)/readyz"))?.status == 200
        }
        try #require(apply.process.isRunning, "\(apply.output().stderr)")
        return apply
    }

    func request(_ url: String, body: Any? = nil) async throws -> Curl.Answer {
        let text = try body.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        return try await Curl.waiting { try Curl.request(url, body: text) }
    }

    func json(_ answer: Curl.Answer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any], "\(answer.body)")
    }

    func imagePart(_ base64: String, mime: String = "image/png") -> [String: Any] {
        ["type": "image_url", "image_url": ["url": "data:\(mime);base64,\(base64)"]]
    }

    /// An OpenAI chat at temperature 0: the answer's text and usage, or the error answer.
    func openAI(_ messages: [[String: Any]], model: String = "vlm", base: String? = nil) async throws -> (
        Curl.Answer, [String: Any]
    ) {
        let base = base ?? self.base
        let answer = try await request(
            "\(base)/v1/chat/completions",
            body: ["model": model, "messages": messages, "temperature": 0, "max_tokens": 8] as [String: Any])
        return (answer, try json(answer))
    }

    func content(_ reply: [String: Any]) -> String? {
        ((reply["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
    }

    func usage(_ reply: [String: Any], _ key: String) -> Int? {
        let usage = reply["usage"] as? [String: Any]
        return usage?[key] as? Int ?? (usage?["prompt_tokens_details"] as? [String: Any])?[key] as? Int
    }

    /// `rockchipllama_images_encoded_total` for `model` over every API.
    func imagesEncoded(_ model: String = "vlm", base: String? = nil) async throws -> Int {
        let metrics = try await request("\(base ?? self.base)/metrics").body
        return metrics.split(separator: "\n")
            .filter { $0.hasPrefix("rockchipllama_images_encoded_total{") && $0.contains("model=\"\(model)\"") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0) { $0 + Int($1) }
    }

    @Test func imagesReachTheModelThroughBothAPIs() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        let vlm = try await generate(in: device.directory)
        let apply = try await start(vlm, in: device)
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }

        func ask(_ images: [String], mime: String = "image/png") async throws -> (Curl.Answer, [String: Any]) {
            let parts = try images.map { imagePart(try vlm.base64($0), mime: mime) }
            return try await openAI([["role": "user", "content": parts + [["type": "text", "text": "Describe the image."]]]])
        }
        let (redAnswer, red) = try await ask(["red"])
        #expect(redAnswer.status == 200, "\(redAnswer.body)")
        let redText = try #require(content(red))
        #expect(!redText.isEmpty)
        #expect(usage(red, "image_tokens") == vlm.imageTokens)
        #expect(try await ask(["red"]).1["choices"] != nil)
        #expect(content(try await ask(["red"]).1) == redText, "temperature 0 gives the same answer for the same image")
        let blue = try #require(content(try await ask(["blue"]).1))
        #expect(blue != redText, "another image gives another answer")
        let (twoAnswer, two) = try await ask(["red", "stripes"])
        #expect(twoAnswer.status == 200, "\(twoAnswer.body)")
        #expect(usage(two, "image_tokens") == 2 * vlm.imageTokens)
        #expect(try await ask(["photo"], mime: "image/jpeg").0.status == 200)
        #expect(try await ask(["anim"], mime: "image/gif").0.status == 200)

        // The same conversation through Ollama's chat and generate is the same prompt: the same answer.
        let ollamaChat = try await request(
            "\(base)/api/chat",
            body: [
                "model": "vlm", "stream": false, "options": ["temperature": 0, "num_predict": 8],
                "messages": [["role": "user", "content": "Describe the image.", "images": [try vlm.base64("red")]]],
            ] as [String: Any])
        #expect(ollamaChat.status == 200, "\(ollamaChat.body)")
        #expect((try json(ollamaChat)["message"] as? [String: Any])?["content"] as? String == redText)
        let ollamaGenerate = try await request(
            "\(base)/api/generate",
            body: [
                "model": "vlm", "stream": false, "options": ["temperature": 0, "num_predict": 8],
                "prompt": "Describe the image.", "images": [try vlm.base64("red")],
            ] as [String: Any])
        #expect(ollamaGenerate.status == 200, "\(ollamaGenerate.body)")
        #expect(try json(ollamaGenerate)["response"] as? String == redText)

        let show = try json(try await request("\(base)/api/show", body: ["model": "vlm"]))
        #expect((show["capabilities"] as? [String])?.contains("vision") == true)
        let plainShow = try json(try await request("\(base)/api/show", body: ["model": "plain"]))
        #expect((plainShow["capabilities"] as? [String])?.contains("vision") == false)
        #expect(try await imagesEncoded() >= 4)

        // Refusals, each in its API's shape.
        for (name, mime, says) in [
            ("truncated", "image/png", "could not be decoded"), ("picture", "image/webp", "WebP"),
            ("huge", "image/png", "pixels"),
        ] {
            let (answer, reply) = try await ask([name], mime: mime)
            #expect(answer.status == 400, "\(name): \(answer.body)")
            let message = (reply["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(message.contains(says), "\(name): \(answer.body)")
        }
        let (noise, noiseReply) = try await openAI([
            ["role": "user", "content": [imagePart(Data("not an image at all".utf8).base64EncodedString())]]
        ])
        #expect(noise.status == 400 && (noiseReply["error"] as? [String: Any])?["type"] as? String == "invalid_request_error")
        let (plain, _) = try await openAI(
            [["role": "user", "content": [imagePart(try vlm.base64("red"))]]], model: "plain")
        #expect(plain.status == 400, "\(plain.body)")
        for (model, image) in [("vlm", try vlm.base64("truncated")), ("vlm", "%%%"), ("plain", try vlm.base64("red"))] {
            let answer = try await request(
                "\(base)/api/chat",
                body: [
                    "model": model, "stream": false, "messages": [["role": "user", "content": "Hi", "images": [image]]],
                ] as [String: Any])
            #expect(answer.status == 400, "\(model): \(answer.body)")
            #expect(try json(answer)["error"] is String, "\(answer.body)")
        }
        // A refused request disturbs nothing: the same question still gets the same answer.
        #expect(content(try await ask(["red"]).1) == redText)

        // The official clients, unchanged.
        let clientsScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Clients/vision_clients.py").path
        let clients = try await PythonScript.run(Self.python, [clientsScript, base, "vlm", vlm.images["red"]!])
        #expect(clients.status == 0, "\(clients.stderr)")
        let result = try #require(clients.json, "\(clients.stderr)")
        let openAIClient = try #require(result["openai"] as? [String: Any])
        #expect((openAIClient["content"] as? String)?.isEmpty == false)
        #expect(openAIClient["image_tokens"] as? Int == vlm.imageTokens)
        #expect(result["openai_bad_image"] as? Int == 400)
        #expect(((result["ollama_chat"] as? [String: Any])?["content"] as? String)?.isEmpty == false)
        #expect((result["ollama_generate"] as? [String: Any])?["done"] as? Bool == true)
        #expect((result["ollama_capabilities"] as? [String])?.contains("vision") == true)

        #expect(try await apply.terminate() == 0)
    }

    @Test func aRepeatedImageIsNotEncodedAgain() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        let vlm = try await generate(in: device.directory)
        let apply = try await start(vlm, in: device)
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }

        let first: [String: Any] = [
            "role": "user",
            "content": [imagePart(try vlm.base64("stripes")), ["type": "text", "text": "Describe the image."]],
        ]
        let (_, turn1) = try await openAI([first])
        let answer = try #require(content(turn1))
        let encoded = try await imagesEncoded()
        #expect(encoded == 1)

        // The follow-up turn repeats the conversation, image included: all of it comes from the slot's cache.
        let (_, turn2) = try await openAI([
            first, ["role": "assistant", "content": answer], ["role": "user", "content": "And its colours?"],
        ])
        #expect(content(turn2) != nil)
        let cached = try #require(usage(turn2, "cached_tokens"))
        let firstPrompt = try #require(usage(turn1, "prompt_tokens"))
        #expect(cached >= firstPrompt - 1)
        #expect(try await imagesEncoded() == encoded, "the image was encoded again")

        // Another conversation with the same image, different from its start: decoded again, not encoded.
        let (_, other) = try await openAI([["role": "system", "content": "Be brief."], first])
        #expect(usage(other, "image_tokens") == vlm.imageTokens)
        #expect(try await imagesEncoded() == encoded, "the image's embeddings were not reused")

        // A new image is encoded.
        _ = try await openAI([["role": "user", "content": [imagePart(try vlm.base64("blue"))]]])
        #expect(try await imagesEncoded() == encoded + 1)
        #expect(try await apply.terminate() == 0)
    }

    /// Image URLs: fetched from the hosts an endpoint allows, within its size limit; refused elsewhere.
    @Test func imageURLsAreFetchedOnlyFromAllowedHosts() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        let vlm = try await generate(in: device.directory)
        let filesPort = port + 2
        let files = Process()
        files.executableURL = URL(fileURLWithPath: Self.python)
        files.arguments = ["-m", "http.server", "\(filesPort)", "--bind", "127.0.0.1", "--directory", device.directory.path]
        files.standardOutput = FileHandle.nullDevice
        files.standardError = FileHandle.nullDevice
        try files.run()
        defer { kill(files.processIdentifier, SIGKILL) }
        let apply = try await start(
            vlm, in: device, endpointOptions: ", remoteImages: {hosts: [127.0.0.1], timeout: 5s, maxSize: 20KiB}")
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }
        try await eventually("the file server to answer") {
            (try? await request("http://127.0.0.1:\(filesPort)/red.png"))?.status == 200
        }

        func ask(_ url: String, base: String? = nil) async throws -> (Curl.Answer, [String: Any]) {
            try await openAI(
                [
                    [
                        "role": "user",
                        "content": [
                            ["type": "image_url", "image_url": ["url": url]], ["type": "text", "text": "Describe the image."],
                        ],
                    ]
                ],
                base: base)
        }
        let files127 = "http://127.0.0.1:\(filesPort)"
        let (fetched, fetchedReply) = try await ask("\(files127)/red.png")
        #expect(fetched.status == 200, "\(fetched.body)")
        let sent = try #require(content(try await ask("data:image/png;base64,\(try vlm.base64("red"))").1))
        #expect(content(fetchedReply) == sent, "the fetched image is the same image")
        #expect(usage(fetchedReply, "image_tokens") == vlm.imageTokens)

        for (url, says) in [
            ("\(files127)/missing.png", "answered 404"), ("http://localhost:\(filesPort)/red.png", "only from 127.0.0.1"),
            ("\(files127)/huge.png", "at most 20480"),
        ] {
            let (answer, reply) = try await ask(url)
            #expect(answer.status == 400, "\(url): \(answer.body)")
            let message = (reply["error"] as? [String: Any])?["message"] as? String
            #expect(message?.contains(says) == true, "\(url): \(answer.body)")
        }
        // An endpoint without remoteImages fetches nothing.
        let (strict, strictReply) = try await ask("\(files127)/red.png", base: "http://127.0.0.1:\(port + 3)")
        #expect(strict.status == 400, "\(strict.body)")
        #expect(((strictReply["error"] as? [String: Any])?["message"] as? String)?.contains("does not fetch") == true)
        #expect(try await apply.terminate() == 0)
    }

    /// An rkllm model on RKLLMSim (each ABI build) with its vision encoder on RKNNSim: the simulated `.rknn`
    /// names the same projector and model, so the whole path runs here, from the HTTP request to the
    /// runtime's multimodal input.
    @Test(arguments: ["1.2", "1.3"]) func imagesReachAnNPUModelThroughItsEncoder(abi: String) async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        let vlm = try await generate(in: device.directory)
        let encoder = device.directory.appendingPathComponent("vision.rknn")
        try "RKNNSIM 1\nprojector=\(vlm.projector)\ntext_model=\(ServedDevice.model)\n".write(
            to: encoder, atomically: true, encoding: .utf8)
        let repository = RunnerProcess.repository
        let rkllm = repository.appendingPathComponent(".deps/rkllmsim/\(abi)/librkllmrt.so").resolvingSymlinksInPath().path
        let rknn = repository.appendingPathComponent(".deps/rknnsim/librknnrt.so").resolvingSymlinksInPath().path
        let port = 18_321
        let base = "http://127.0.0.1:\(port)"
        let manifest = device.directory.appendingPathComponent("npu.yaml")
        try """
        apiVersion: rockchipllama/v1
        kind: Device
        metadata: {name: npu-vision}
        runtimes:
          rkllm: {library: \(rkllm)}
          rknn: {library: \(rknn)}
        models:
          - name: npu-vlm
            engine: rkllm
            source: {path: \(ServedDevice.model)}
            context: 1024
            sampling: {temperature: 0}
            vision:
              encoder: {path: \(encoder.path)}
              imageStart: "<jupyter_start>"
              imageEnd: "<jupyter_output>"
              imageContent: "<empty_output>"
              npuCores: [0, 1, 2]
        endpoints:
          - {name: local, listen: "127.0.0.1:\(port)", apis: [openai, ollama, metrics]}
        """.write(to: manifest, atomically: true, encoding: .utf8)
        let apply = try RunnerProcess.start(
            ["apply", manifest.path, "--state-dir", device.state.path, "--readiness-timeout", "120"],
            environment: ServedDevice.environment)
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }
        try await eventually("the endpoint to be ready", timeout: .seconds(150)) {
            guard apply.process.isRunning else { return true }
            return (try? await request("\(base)/readyz"))?.status == 200
        }
        try #require(apply.process.isRunning, "\(apply.output().stderr)")

        func turn(_ image: String) throws -> [String: Any] {
            [
                "role": "user",
                "content": [imagePart(try vlm.base64(image)), ["type": "text", "text": "Describe the image."]],
            ]
        }
        let (redAnswer, red) = try await openAI([try turn("red")], model: "npu-vlm", base: base)
        #expect(redAnswer.status == 200, "\(redAnswer.body)")
        let redText = try #require(content(red))
        #expect(!redText.isEmpty)
        #expect(usage(red, "image_tokens") == vlm.imageTokens)
        let encoded = try await imagesEncoded("npu-vlm", base: base)
        #expect(encoded == 1)
        #expect(content(try await openAI([try turn("red")], model: "npu-vlm", base: base).1) == redText)
        #expect(try await imagesEncoded("npu-vlm", base: base) == encoded, "a repeated image is not encoded again")
        let blue = try #require(content(try await openAI([try turn("blue")], model: "npu-vlm", base: base).1))
        #expect(blue != redText, "another image gives another answer")
        #expect(try await imagesEncoded("npu-vlm", base: base) == encoded + 1)

        // A follow-up turn continues the conversation the runtime holds (blue's): nothing is encoded.
        let (followAnswer, follow) = try await openAI(
            [try turn("blue"), ["role": "assistant", "content": blue], ["role": "user", "content": "And its colours?"]],
            model: "npu-vlm", base: base)
        #expect(followAnswer.status == 200, "\(followAnswer.body)")
        #expect(content(follow)?.isEmpty == false)
        #expect(try await imagesEncoded("npu-vlm", base: base) == encoded + 1)

        let ollama = try await request(
            "\(base)/api/chat",
            body: [
                "model": "npu-vlm", "stream": false, "options": ["temperature": 0, "num_predict": 8],
                "messages": [["role": "user", "content": "Describe the image.", "images": [try vlm.base64("red")]]],
            ] as [String: Any])
        #expect(ollama.status == 200, "\(ollama.body)")
        #expect((try json(ollama)["message"] as? [String: Any])?["content"] as? String == redText)

        let (bad, badReply) = try await openAI([try turn("truncated")], model: "npu-vlm", base: base)
        #expect(bad.status == 400, "\(bad.body)")
        let badMessage = (badReply["error"] as? [String: Any])?["message"] as? String
        #expect(badMessage?.contains("could not be decoded") == true, "\(bad.body)")
        #expect(try await apply.terminate() == 0)
    }
}
