internal import Engine
internal import Foundation
internal import Logging

/// The legacy server's protocol and its quirks, handled here rather than passed on:
/// - reset and generate answer at once and work in the background; while either runs, every call answers
///   400 `llm is running`, which is waited out (up to `hangTimeout`, after which the server counts as hung);
/// - a poll right after generate (or during a reset's prefill) can answer `done` before the generation
///   started: `done` counts once text came (an empty answer, once the server has been idle for a short grace);
/// - sampling settings persist between requests: every request sends all four;
/// - a full context comes back as reply text: the session is reset and the conversation replayed once, then
///   the request fails with `prompt_too_long`.
extension AXLLMEngine {
    static let contextFull = "error: SetKVCache failed"
    /// How long the server must be idle, with no text, before an answer is taken to be empty.
    static let emptyAnswerGrace: Duration = .seconds(2)

    func runLegacy(_ job: Job, piece: (String) async -> Bool) async throws -> Outcome {
        guard let request = job.legacy else {
            throw EngineError(.invalidRequest, "the request was not prepared for the legacy server")
        }
        var step = LegacyConversation.step(for: request, held: session)
        var replayed = false
        while true {
            // Unknown until this run ends well: a cancelled or failed run leaves the session in between.
            let held = session
            session = nil
            let prompt: String
            switch step {
            case .extend(let text): prompt = text
            case .reset(let system, let text):
                try await legacyCall("/api/reset", ["system_prompt": system])
                prompt = text
            }
            try await legacyCall("/api/generate", legacySampling(job.sampling).merging(["prompt": prompt]) { $1 })
            let (reply, stopped) = try await collectReply(piece: piece)
            if reply.hasPrefix(Self.contextFull) {
                guard !replayed else {
                    throw EngineError(
                        .promptTooLong,
                        "the conversation does not fit the model's context (\(configuration.context) tokens) even after a reset")
                }
                replayed = true
                step = .reset(system: request.system, prompt: LegacyConversation.replay(request))
                continue
            }
            if stopped { try await stopGeneration() }
            var exchanges = request.history
            if case .extend = step, let held { exchanges = held.exchanges }
            exchanges.append(.init(user: request.user, assistant: reply))
            // A reply cut short by a stop string or max_tokens is not what the session holds.
            session = stopped ? nil : LegacyConversation(system: request.system, exchanges: exchanges)
            var outcome = Outcome()
            if let tokenizerHTTP {
                outcome.promptTokens = try await Self.count(prompt, tokenizerHTTP) ?? 0
                outcome.completionTokens = try await Self.count(reply, tokenizerHTTP)
            }
            return outcome
        }
    }

    /// Polls until the generation ends; text goes to `piece` as it comes, except while it could still be the
    /// context-full message. Returns the whole reply and whether `piece` stopped the answer early.
    private func collectReply(piece: (String) async -> Bool) async throws -> (String, stopped: Bool) {
        var reply = ""
        var sent = 0
        // `done` is the server's idle flag, which a reset's background prefill also clears and which is set
        // again between tasks: only text shows the generation ran. An answer with none is taken once the
        // server has been idle for the grace.
        var lastBusy = ContinuousClock.now
        do {
            while true {
                let answer = try await http.get("/api/generate_provider")
                guard let object = answer.json, let done = object["done"] as? Bool else {
                    throw EngineError(
                        .decodeFailed, "the AXERA server's poll answered \(answer.status): \(answer.text.prefix(200))")
                }
                let text = object["response"] as? String ?? ""
                if !done { lastBusy = .now }
                reply += text
                // The context-full message arrives as reply text: hold text that could still be it.
                let couldBeError = Self.contextFull.hasPrefix(reply) || reply.hasPrefix(Self.contextFull)
                if !couldBeError, reply.count > sent {
                    let fresh = String(reply.dropFirst(sent))
                    sent = reply.count
                    if await !piece(fresh) { return (reply, true) }
                }
                if done && (!reply.isEmpty || ContinuousClock.now - lastBusy > Self.emptyAnswerGrace) {
                    if !reply.hasPrefix(Self.contextFull), reply.count > sent, await !piece(String(reply.dropFirst(sent))) {
                        return (reply, true)
                    }
                    return (reply, false)
                }
                try await Task.sleep(for: configuration.pollInterval)
            }
        } catch {
            // The consumer left (a cancelled sleep throws CancellationError, a cancelled request the HTTP
            // client's own error): stop the server's generation before giving up the turn.
            guard Task.isCancelled else { throw error }
            await Task { try? await self.stopGeneration() }.value
            throw CancellationError()
        }
    }

    /// Tokens in `text` for usage, nil when the tokenizer service cannot tell; a silent service is hung.
    private static func count(_ text: String, _ tokenizer: VendorHTTP) async throws(VendorHTTP.Silent) -> Int? {
        do {
            return try await tokens(text, tokenizer).count
        } catch let silent as VendorHTTP.Silent {
            throw silent
        } catch {
            return nil
        }
    }

    /// The server's own `--system_prompt`, which a conversation without a system message gets (a reset
    /// would otherwise replace it with nothing).
    var defaultSystemPrompt: String {
        let arguments = configuration.arguments
        for (index, argument) in arguments.enumerated() {
            if argument.hasPrefix("--system_prompt=") { return String(argument.dropFirst("--system_prompt=".count)) }
            if argument == "--system_prompt", index + 1 < arguments.count { return arguments[index + 1] }
        }
        return ""
    }

    /// `/api/stop`, then polls until the server is idle again.
    func stopGeneration() async throws {
        _ = try await http.get("/api/stop")
        let deadline = ContinuousClock.now + configuration.hangTimeout
        while ContinuousClock.now < deadline {
            if let done = try await http.get("/api/generate_provider").json?["done"] as? Bool, done { return }
            try await Task.sleep(for: configuration.pollInterval)
        }
        hung("the AXERA server did not stop within \(configuration.hangTimeout) of /api/stop")
        throw Self.hungError
    }

    /// A POST that waits out `llm is running` (a reset's prefill or the end of a stopped generation).
    private func legacyCall(_ path: String, _ body: [String: Any]) async throws {
        let deadline = ContinuousClock.now + configuration.hangTimeout
        // Short, even pauses: a reset's prefill ends at any moment, and the first token waits on the retry.
        let pause = configuration.pollInterval / 2
        while true {
            let answer = try await http.post(path, body)
            if answer.status == 200 { return }
            let message = answer.json?["error"] as? String ?? answer.text
            guard message == "llm is running" || message == "Model initing" else {
                throw EngineError(.decodeFailed, "the AXERA server refused \(path): \(answer.status) \(message)")
            }
            guard ContinuousClock.now < deadline else {
                hung("the AXERA server kept answering '\(message)' for \(configuration.hangTimeout)")
                throw Self.hungError
            }
            try await Task.sleep(for: pause)
        }
    }

    /// The four settings the server keeps between requests, always sent so no earlier request's stay.
    /// The server ignores a repetition penalty within 0.0001 of 1 (keeping the previous one), so "none" is sent
    /// as 1.001; top-p must be in (0, 1) and top-k above 0 to count, so 0 turns each off.
    func legacySampling(_ s: Sampling) -> [String: Any] {
        let temperature = s.temperature ?? 0
        return [
            "temperature": temperature,
            "top-p": s.topP.map { $0 < 1 ? $0 : 0 } ?? 0,
            "top-k": temperature <= 0 ? 1 : (s.topK ?? 0),
            "repetition_penalty": max(s.repeatPenalty ?? 1, 1.001),
        ]
    }
}
