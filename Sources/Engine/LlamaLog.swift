import CLlama
import Logging

/// Routes llama.cpp's log lines (libllama's and libmtmd's) into swift-log: warnings and errors only (its
/// info output is a page per model load). llama.cpp's loggers are process-global, so the sink is too; the
/// last engine loaded wins.
enum LlamaLog {
    /// Retained for the process lifetime: llama.cpp keeps the pointer.
    private final class Sink: Sendable {
        let logger: Logger
        init(_ logger: Logger) { self.logger = logger }
    }

    static func install(library: LlamaLibrary, logger: Logger) {
        library.logSet(forward, Unmanaged.passRetained(Sink(logger)).toOpaque())
    }

    static func install(multimodal: MultimodalLibrary, logger: Logger) {
        multimodal.logSet(forward, Unmanaged.passRetained(Sink(logger)).toOpaque())
    }

    private static let forward: ggml_log_callback = { level, text, userData in
        guard let text, let userData, level == GGML_LOG_LEVEL_WARN || level == GGML_LOG_LEVEL_ERROR else { return }
        let sink = Unmanaged<Sink>.fromOpaque(userData).takeUnretainedValue()
        var message = String(cString: text)
        while message.hasSuffix("\n") { message.removeLast() }
        if level == GGML_LOG_LEVEL_ERROR {
            sink.logger.error("\(message)", metadata: ["source": "llama.cpp"])
        } else {
            sink.logger.warning("\(message)", metadata: ["source": "llama.cpp"])
        }
    }
}
