import Foundation
import Testing
import Worker

/// A `runner serve` in the background with its state directory, and HTTP through curl (the way a person
/// would check it, and streaming without a client library).
struct ServedDevice {
    let directory: URL
    var state: URL { directory.appendingPathComponent("state") }

    init() throws { directory = try RunnerProcess.temporaryDirectory() }

    static let model =
        ProcessInfo.processInfo.environment["RUNNER_TEST_MODEL"]
        ?? RunnerProcess.repository.appendingPathComponent(".deps/models/SmolLM2-135M-Instruct.Q4_1.gguf").path

    static let simulator = RunnerProcess.repository.appendingPathComponent(".deps/rkllmsim/1.3/librkllmrt.so").path

    /// The library location the Makefile exports, and nothing else of ours.
    static var environment: [String: String] {
        var environment = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()]
        environment["RUNNER_LLAMA_LIBRARY"] = LlamaLibraryLocator.locate(
            manifestLibrary: nil, workingDirectory: RunnerProcess.repository.path)
        return environment
    }

    func worker(_ model: String) -> (pid: Int32, json: [String: Any])? {
        let url = state.appendingPathComponent("workers/\(model).json")
        guard let data = try? Data(contentsOf: url), let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let pid = json["pid"] as? Int
        else { return nil }
        return (Int32(pid), json)
    }

    func workerPid(_ model: String) -> Int32? { worker(model)?.pid }

    func appliedSource() -> [String: Any]? {
        guard let data = try? Data(contentsOf: state.appendingPathComponent("applied-source.json")) else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// HTTP requests with curl.
enum Curl {
    struct Answer {
        var status: Int
        var body: String
    }

    static func chatBody(_ model: String, _ prompt: String, maxTokens: Int, stream: Bool = false) -> String {
        let body: [String: Any] = [
            "model": model, "messages": [["role": "user", "content": prompt]], "max_tokens": maxTokens, "temperature": 0,
            "stream": stream,
        ]
        return String(decoding: try! JSONSerialization.data(withJSONObject: body), as: UTF8.self)
    }

    /// A whole answer: the status code and the body.
    static func request(_ url: String, method: String? = nil, body: String? = nil) throws -> Answer {
        try requestWithHeaders(url, method: method, body: body).0
    }

    /// A whole answer with its header fields (names lowercased).
    static func requestWithHeaders(_ url: String, method: String? = nil, body: String? = nil) throws -> (
        Answer, headers: [String: String]
    ) {
        let headerFile = FileManager.default.temporaryDirectory.appendingPathComponent("headers-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: headerFile) }
        var arguments = ["-s", "-m", "60", "-D", headerFile.path, "-o", "-", "-w", "\n%{http_code}", url]
        if let body { arguments += ["-H", "content-type: application/json", "-d", body] }
        if let method { arguments += ["-X", method] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        var headers: [String: String] = [:]
        for line in ((try? String(contentsOf: headerFile, encoding: .utf8)) ?? "").split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (Answer(status: Int(lines.last ?? "") ?? 0, body: lines.dropLast().joined(separator: "\n")), headers)
    }

    /// Runs a request that is meant to wait (seconds, for a model's turn) on a thread of its own: curl blocks
    /// its caller, and a test that blocks the few threads Swift concurrency has starves every other test in
    /// the process meanwhile.
    static func waiting<T: Sendable>(_ request: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try request() }) }
        }
    }

    static func chat(port: Int, model: String, prompt: String = "Say hi.", maxTokens: Int = 8) throws -> Answer {
        try request("http://127.0.0.1:\(port)/v1/chat/completions", body: chatBody(model, prompt, maxTokens: maxTokens))
    }

    /// A streaming request left running; its output is read from a file while it goes.
    struct Stream {
        let process: Process
        let output: URL

        var text: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
        var finished: Bool { !process.isRunning }
    }

    static func stream(port: Int, model: String, prompt: String, maxTokens: Int, in directory: URL) throws -> Stream {
        let output = directory.appendingPathComponent("stream-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = [
            "-sN", "-m", "120", "-H", "content-type: application/json", "-d",
            chatBody(model, prompt, maxTokens: maxTokens, stream: true), "http://127.0.0.1:\(port)/v1/chat/completions",
        ]
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle.nullDevice
        try process.run()
        return Stream(process: process, output: output)
    }
}

extension RunnerProcess.Background {
    /// SIGTERM, then the exit status (SIGKILL and -1 if it does not exit in time).
    func terminate(timeout: Duration = .seconds(40)) async throws -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        guard !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            return -1
        }
        return process.terminationStatus
    }
}
