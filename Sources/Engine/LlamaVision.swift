import CLlama
import Foundation
import Logging

/// A model's vision part: libmtmd's context for the projector file, turning prompts with images into tokens
/// plus image chunks, and image chunks into KV cache entries of a slot's sequence. Lives on the engine thread.
///
/// An image's place in a prompt is a run of placeholder tokens, one per KV cell the image fills, all equal
/// to a negative value derived from the image's content hash. Real tokens are never negative, so a slot's
/// history compares with the next prompt token by token as usual: a conversation that repeats an image
/// reuses it from the KV cache, and a different image breaks the shared prefix where it starts.
final class LlamaVision {
    let library: MultimodalLibrary
    private let context: OpaquePointer
    private let model: LlamaModel
    /// Floats per image token (the model's input width).
    private let width: Int
    /// The text that stands for an image in a prompt given to `prompt`.
    let marker: String
    /// An image that is no longer in any slot's cache (another slot, an evicted conversation) is decoded
    /// again from these, without encoding it.
    private var recent = RecentEmbeddings()

    init(projectorPath: String, model: LlamaModel, configuration: LlamaEngine.Configuration) throws(EngineError) {
        library = try MultimodalLibrary.load(nextTo: configuration.libraryPath)
        LlamaLog.install(multimodal: library, logger: configuration.logger)
        var params = library.contextParamsDefault()
        params.use_gpu = configuration.gpuLayers > 0
        params.n_threads = Int32(model.threads)
        params.print_timings = false
        params.warmup = true
        guard let context = library.initFromFile(projectorPath, model.model, params) else {
            throw EngineError(
                .modelLoadFailed,
                "llama.cpp could not load the projector \(projectorPath) for this model (see the log for why; its "
                    + "width must match the model's)")
        }
        guard library.supportsVision(context) else {
            library.free(context)
            throw EngineError(.modelLoadFailed, "the projector \(projectorPath) has no vision encoder")
        }
        if library.usesMRoPE(context) {
            // M-RoPE (Qwen2-VL family) gives an image fewer positions than KV cells; slots here count both as one.
            library.free(context)
            throw EngineError(
                .unsupported, "the projector \(projectorPath) uses M-RoPE positions (Qwen-VL family), not supported yet")
        }
        self.context = context
        self.model = model
        width = Int(model.library.modelInputEmbeddingSize(model.model))
        marker = library.defaultMarker().map { String(cString: $0) } ?? "<__media__>"
    }

    deinit {
        library.free(context)
    }

    /// Tokens of `text`, where each `marker` stands for the next of `images`, with the images' chunks.
    func prompt(_ text: String, images: [ImageInput]) throws(EngineError) -> MultimodalPrompt {
        var bitmaps: [OpaquePointer?] = []
        defer { for bitmap in bitmaps { library.bitmapFree(bitmap) } }
        for (index, image) in images.enumerated() {
            let wrapper = image.data.withUnsafeBytes { bytes in
                library.bitmapFromBuffer(
                    context, bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, false,
                    library.initOptionsDefault())
            }
            if let video = wrapper.video_ctx { library.videoFree(video) }
            guard let bitmap = wrapper.bitmap else {
                throw EngineError(
                    .invalidRequest, "image \(index + 1) could not be decoded (PNG, JPEG, GIF and BMP are supported)")
            }
            bitmaps.append(bitmap)
            if library.bitmapIsAudio(bitmap) {
                throw EngineError(.invalidRequest, "image \(index + 1) is audio, not an image")
            }
        }
        guard let chunks = library.chunksInit() else { throw EngineError(.invalidRequest, "libmtmd is out of memory") }
        defer { library.chunksFree(chunks) }
        let status = text.withCString { pointer in
            var input = mtmd_input_text(text: pointer, text_len: strlen(pointer), add_special: true, parse_special: true)
            return bitmaps.withUnsafeBufferPointer { library.tokenize(context, chunks, &input, $0.baseAddress, $0.count) }
        }
        switch status {
        case 0: break
        case 1:
            throw EngineError(
                .invalidRequest, "the text contains the image marker \(marker) itself; the model reserves it for images")
        default: throw EngineError(.invalidRequest, "llama.cpp could not prepare the images (status \(status))")
        }
        var prompt = MultimodalPrompt()
        for index in 0..<library.chunksCount(chunks) {
            guard let chunk = library.chunkAt(chunks, index) else { continue }
            if library.chunkType(chunk) == MTMD_INPUT_CHUNK_TYPE_TEXT {
                var count = 0
                if let tokens = library.chunkTextTokens(chunk, &count) {
                    prompt.tokens.append(contentsOf: UnsafeBufferPointer(start: tokens, count: count))
                }
                continue
            }
            let count = library.chunkTokenCount(chunk)
            guard library.chunkPositionCount(chunk) == count, let copy = library.chunkCopy(chunk) else {
                throw EngineError(.unsupported, "the projector places an image at other positions than its tokens")
            }
            let id = library.chunkID(chunk).map { String(cString: $0) } ?? ""
            prompt.images.append(PromptImage(chunk: copy, start: prompt.tokens.count, count: count, id: id, library: library))
            prompt.tokens.append(contentsOf: repeatElement(Self.placeholder(for: id), count: count))
        }
        guard let last = prompt.tokens.last, last >= 0 else {
            throw EngineError(.invalidRequest, "a prompt must end with text after its last image")
        }
        return prompt
    }

    /// The placeholder token of an image: negative, from the first 31 bits of its content hash.
    static func placeholder(for id: String) -> Int32 {
        let bits = UInt32(id.prefix(8), radix: 16) ?? 0
        return -Int32(bitPattern: bits & 0x7FFF_FFFF) - 1
    }

    /// Puts `image` into `sequence`'s KV cache from `position` on, encoding it unless its embeddings are still
    /// at hand. Returns the time the encoder took, nil when it did not run.
    func evaluate(_ image: PromptImage, sequence: Int32, position: Int, batchSize: Int) throws(EngineError) -> Duration? {
        var embeddings: [Float]
        var encodeTime: Duration?
        if let held = recent.take(image.id) {
            embeddings = held
        } else {
            let start = ContinuousClock.now
            guard library.encodeChunk(context, image.chunk) == 0, let output = library.outputEmbeddings(context) else {
                throw EngineError(.decodeFailed, "llama.cpp could not encode the image")
            }
            embeddings = Array(UnsafeBufferPointer(start: output, count: image.count * width))
            encodeTime = ContinuousClock.now - start
        }
        var next: llama_pos = 0
        let status = embeddings.withUnsafeMutableBufferPointer { buffer in
            library.decodeImageChunk(
                context, model.context, image.chunk, buffer.baseAddress, llama_pos(position), sequence,
                Int32(batchSize), &next, nil, nil)
        }
        recent.remember(image.id, embeddings)
        guard status == 0 else { throw EngineError(.decodeFailed, "llama_decode failed on an image (status \(status))") }
        return encodeTime
    }
}

/// A prompt with images: tokens with each image's placeholder run, and the images in order.
struct MultimodalPrompt {
    var tokens: [Int32] = []
    var images: [PromptImage] = []
}

/// One image of a prompt: libmtmd's chunk for it (owned) and the placeholder run it fills.
final class PromptImage {
    let chunk: OpaquePointer
    /// Index of its first placeholder in the prompt.
    let start: Int
    /// KV cells (and positions) it fills.
    let count: Int
    /// SHA-256 of the image file, as libmtmd computes it.
    let id: String
    private let library: MultimodalLibrary

    var end: Int { start + count }

    init(chunk: OpaquePointer, start: Int, count: Int, id: String, library: MultimodalLibrary) {
        self.chunk = chunk
        self.start = start
        self.count = count
        self.id = id
        self.library = library
    }

    deinit {
        library.chunkFree(chunk)
    }
}
