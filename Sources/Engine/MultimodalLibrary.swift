import CLlama

/// libmtmd, llama.cpp's multimodal library, opened with dlopen from the directory libllama came from (the
/// two are built and shipped together) and every function the engine calls resolved once. Only models with
/// a projector open it, so a llama.cpp without libmtmd still serves text models.
///
/// `@unchecked Sendable` for the same reason as `LlamaLibrary`: immutable function pointers, called on the
/// engine thread only.
struct MultimodalLibrary: @unchecked Sendable {
    let path: String

    let contextParamsDefault: mtmd_context_params_default_fn
    let initFromFile: mtmd_init_from_file_fn
    let free: mtmd_free_fn
    let supportsVision: mtmd_support_vision_fn
    let usesMRoPE: mtmd_decode_use_mrope_fn
    let defaultMarker: mtmd_default_marker_fn
    let logSet: mtmd_helper_log_set_fn
    let initOptionsDefault: mtmd_helper_init_opt_default_fn
    let bitmapFromBuffer: mtmd_helper_bitmap_init_from_buf_fn
    let videoFree: mtmd_helper_video_free_fn
    let bitmapFree: mtmd_bitmap_free_fn
    let bitmapID: mtmd_bitmap_get_id_fn
    let bitmapWidth: mtmd_bitmap_get_nx_fn
    let bitmapHeight: mtmd_bitmap_get_ny_fn
    let bitmapData: mtmd_bitmap_get_data_fn
    let bitmapIsAudio: mtmd_bitmap_is_audio_fn
    let chunksInit: mtmd_input_chunks_init_fn
    let chunksFree: mtmd_input_chunks_free_fn
    let chunksCount: mtmd_input_chunks_size_fn
    let chunkAt: mtmd_input_chunks_get_fn
    let chunkType: mtmd_input_chunk_get_type_fn
    let chunkTextTokens: mtmd_input_chunk_get_tokens_text_fn
    let chunkTokenCount: mtmd_input_chunk_get_n_tokens_fn
    let chunkPositionCount: mtmd_input_chunk_get_n_pos_fn
    let chunkID: mtmd_input_chunk_get_id_fn
    let chunkCopy: mtmd_input_chunk_copy_fn
    let chunkFree: mtmd_input_chunk_free_fn
    let tokenize: mtmd_tokenize_fn
    let encodeChunk: mtmd_encode_chunk_fn
    let outputEmbeddings: mtmd_get_output_embd_fn
    let decodeImageChunk: mtmd_helper_decode_image_chunk_fn

    /// Opens `libmtmd.so` next to `llamaLibraryPath`. Throws `libraryNotFound` or `symbolMissing`.
    static func load(nextTo llamaLibraryPath: String) throws(EngineError) -> MultimodalLibrary {
        let directory = llamaLibraryPath.split(separator: "/", omittingEmptySubsequences: false).dropLast()
            .joined(separator: "/")
        let path = (directory.isEmpty ? "" : directory + "/") + "libmtmd.so"
        // libmtmd links libllama by soname; the copy already loaded from the same directory is the one it gets.
        var symbols = try DynamicSymbolTable(opening: path, what: "llama.cpp's multimodal library (needed for images)")
        let library = MultimodalLibrary(path: path, symbols: &symbols)
        guard symbols.missing.isEmpty else {
            throw EngineError(
                .symbolMissing,
                "\(path) lacks \(symbols.missing.joined(separator: ", ")); it does not match the mtmd.h this "
                    + "build was compiled against")
        }
        return library
    }

    private init(path: String, symbols s: inout DynamicSymbolTable) {
        self.path = path
        contextParamsDefault = s.resolve("mtmd_context_params_default")
        initFromFile = s.resolve("mtmd_init_from_file")
        free = s.resolve("mtmd_free")
        supportsVision = s.resolve("mtmd_support_vision")
        usesMRoPE = s.resolve("mtmd_decode_use_mrope")
        defaultMarker = s.resolve("mtmd_default_marker")
        logSet = s.resolve("mtmd_helper_log_set")
        initOptionsDefault = s.resolve("mtmd_helper_init_opt_default")
        bitmapFromBuffer = s.resolve("mtmd_helper_bitmap_init_from_buf")
        videoFree = s.resolve("mtmd_helper_video_free")
        bitmapFree = s.resolve("mtmd_bitmap_free")
        bitmapID = s.resolve("mtmd_bitmap_get_id")
        bitmapWidth = s.resolve("mtmd_bitmap_get_nx")
        bitmapHeight = s.resolve("mtmd_bitmap_get_ny")
        bitmapData = s.resolve("mtmd_bitmap_get_data")
        bitmapIsAudio = s.resolve("mtmd_bitmap_is_audio")
        chunksInit = s.resolve("mtmd_input_chunks_init")
        chunksFree = s.resolve("mtmd_input_chunks_free")
        chunksCount = s.resolve("mtmd_input_chunks_size")
        chunkAt = s.resolve("mtmd_input_chunks_get")
        chunkType = s.resolve("mtmd_input_chunk_get_type")
        chunkTextTokens = s.resolve("mtmd_input_chunk_get_tokens_text")
        chunkTokenCount = s.resolve("mtmd_input_chunk_get_n_tokens")
        chunkPositionCount = s.resolve("mtmd_input_chunk_get_n_pos")
        chunkID = s.resolve("mtmd_input_chunk_get_id")
        chunkCopy = s.resolve("mtmd_input_chunk_copy")
        chunkFree = s.resolve("mtmd_input_chunk_free")
        tokenize = s.resolve("mtmd_tokenize")
        encodeChunk = s.resolve("mtmd_encode_chunk")
        outputEmbeddings = s.resolve("mtmd_get_output_embd")
        decodeImageChunk = s.resolve("mtmd_helper_decode_image_chunk")
    }
}
