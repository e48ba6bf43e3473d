import CRKNN
import Foundation

/// An rkllm model's vision encoder on Rockchip's RKNN runtime (`librknnrt.so`, or RKNNSim): one `.rknn`
/// context, fed images the way the vendor's multimodal demo feeds it (RGB, padded to a square, resized to the
/// encoder's input, uint8 NHWC; the normalisation is inside the model) and read as float32 embeddings.
/// Lives on the rkllm engine thread, so an encode never overlaps an `rkllm_run` (the runtimes cannot share
/// the NPU at once).
final class RKNNEncoder {
    private let symbols: RKNNSymbols
    private let context: rknn_context
    /// The encoder's input, in pixels.
    let inputWidth: Int
    let inputHeight: Int
    /// Tokens one image becomes, and floats per token.
    let tokens: Int
    let width: Int

    init(libraryPath: String, modelPath: String, cores: [Int]?) throws(EngineError) {
        let symbols = try RKNNSymbols.load(libraryPath)
        self.symbols = symbols
        var context: rknn_context = 0
        let status = modelPath.withCString { path in
            symbols.initialize(&context, UnsafeMutableRawPointer(mutating: path), 0, 0, nil)
        }
        guard status == RKNN_SUCC else {
            throw EngineError(
                .modelLoadFailed,
                "rknn_init failed (\(status)) for the vision encoder \(modelPath) with \(libraryPath)"
                    + (status == RKNN_ERR_MODEL_INVALID ? "; the NPU may be out of memory in IOMMU domain 0" : ""))
        }
        self.context = context
        do throws(EngineError) {
            if let cores {
                let mask = cores.reduce(0) { $0 | (1 << $1) }
                let result = symbols.setCoreMask(context, rknn_core_mask(rawValue: UInt32(mask)))
                guard result == RKNN_SUCC else {
                    throw EngineError(.modelLoadFailed, "rknn_set_core_mask(\(mask)) failed (\(result)) for \(modelPath)")
                }
            }
            var count = rknn_input_output_num()
            try Self.check(
                symbols.query(context, RKNN_QUERY_IN_OUT_NUM, &count, UInt32(MemoryLayout<rknn_input_output_num>.size)),
                "querying its inputs and outputs")
            guard count.n_input == 1, count.n_output >= 1 else {
                throw EngineError(
                    .modelLoadFailed,
                    "the vision encoder \(modelPath) has \(count.n_input) inputs and \(count.n_output) outputs; one image input is expected"
                )
            }
            let input = try Self.attribute(symbols, context, RKNN_QUERY_INPUT_ATTR, index: 0)
            let output = try Self.attribute(symbols, context, RKNN_QUERY_OUTPUT_ATTR, index: 0)
            // NCHW gives C, H, W after the batch; NHWC (and what the converter calls undefined) H, W, C.
            let dims = Self.dims(input)
            guard dims.count == 4 else {
                throw EngineError(.modelLoadFailed, "the vision encoder's input has \(dims.count) dimensions, not 4")
            }
            (inputHeight, inputWidth) = input.fmt == RKNN_TENSOR_NCHW ? (dims[2], dims[3]) : (dims[1], dims[2])
            // The vendor's rule: the first dimension above 1 is the token count, the next one the width.
            let sizes = Self.dims(output).drop { $0 <= 1 }
            guard sizes.count >= 2 else {
                throw EngineError(.modelLoadFailed, "cannot tell tokens and width from the encoder's output \(Self.dims(output))")
            }
            tokens = sizes[sizes.startIndex]
            width = sizes[sizes.startIndex + 1]
        } catch {
            _ = symbols.destroy(context)
            throw error
        }
    }

    deinit {
        _ = symbols.destroy(context)
    }

    /// The embeddings of one decoded image: `tokens` × `width` floats.
    func encode(_ image: ImageRaster) throws(EngineError) -> [Float] {
        var pixels = image.paddedToSquare().resized(width: inputWidth, height: inputHeight).pixels
        let status = pixels.withUnsafeMutableBytes { bytes in
            var input = rknn_input(
                index: 0, buf: bytes.baseAddress, size: UInt32(bytes.count), pass_through: 0, type: RKNN_TENSOR_UINT8,
                fmt: RKNN_TENSOR_NHWC)
            return symbols.inputsSet(context, 1, &input)
        }
        try Self.check(status, "setting the image")
        try Self.check(symbols.run(context, nil), "running the encoder")
        var output = rknn_output()
        output.want_float = 1
        try Self.check(symbols.outputsGet(context, 1, &output, nil), "reading the embeddings")
        defer { _ = symbols.outputsRelease(context, 1, &output) }
        let count = tokens * width
        guard let buffer = output.buf, Int(output.size) >= count * MemoryLayout<Float>.size else {
            throw EngineError(.decodeFailed, "the vision encoder returned \(output.size) bytes, not \(count) floats")
        }
        return Array(UnsafeBufferPointer(start: buffer.assumingMemoryBound(to: Float.self), count: count))
    }

    private static func check(_ status: Int32, _ what: String) throws(EngineError) {
        guard status != RKNN_SUCC else { return }
        throw EngineError(.decodeFailed, "the RKNN runtime failed \(what) (\(status))")
    }

    private static func attribute(_ symbols: RKNNSymbols, _ context: rknn_context, _ command: rknn_query_cmd, index: UInt32)
        throws(EngineError) -> rknn_tensor_attr
    {
        var attribute = rknn_tensor_attr()
        attribute.index = index
        try check(
            symbols.query(context, command, &attribute, UInt32(MemoryLayout<rknn_tensor_attr>.size)),
            "describing tensor \(index)")
        return attribute
    }

    private static func dims(_ attribute: rknn_tensor_attr) -> [Int] {
        withUnsafeBytes(of: attribute.dims) { raw in
            Array(raw.bindMemory(to: UInt32.self).prefix(Int(attribute.n_dims)).map(Int.init))
        }
    }
}

/// The RKNN runtime's entry points, resolved once per library.
///
/// `@unchecked Sendable`: immutable C function pointers.
private struct RKNNSymbols: @unchecked Sendable {
    let initialize: rknn_init_fn
    let destroy: rknn_destroy_fn
    let query: rknn_query_fn
    let inputsSet: rknn_inputs_set_fn
    let run: rknn_run_fn
    let outputsGet: rknn_outputs_get_fn
    let outputsRelease: rknn_outputs_release_fn
    let setCoreMask: rknn_set_core_mask_fn

    static func load(_ path: String) throws(EngineError) -> RKNNSymbols {
        // Never closed, like the rkllm runtime: vendor runtimes start threads of their own.
        var table = try DynamicSymbolTable(opening: path, what: "the RKNN runtime (for the vision encoder)")
        let symbols = RKNNSymbols(
            initialize: table.resolve(RKNN_SYM_INIT), destroy: table.resolve(RKNN_SYM_DESTROY),
            query: table.resolve(RKNN_SYM_QUERY), inputsSet: table.resolve(RKNN_SYM_INPUTS_SET),
            run: table.resolve(RKNN_SYM_RUN), outputsGet: table.resolve(RKNN_SYM_OUTPUTS_GET),
            outputsRelease: table.resolve(RKNN_SYM_OUTPUTS_RELEASE), setCoreMask: table.resolve(RKNN_SYM_SET_CORE_MASK))
        guard table.missing.isEmpty else {
            throw EngineError(.symbolMissing, "\(path) lacks \(table.missing.joined(separator: ", "))")
        }
        return symbols
    }
}
