import Foundation

/// An image of a request, decoded when the request arrives (so a bad file is refused before it queues).
struct DecodedImage: Sendable {
    let source: ImageInput
    let raster: ImageRaster
    /// SHA-256 of the file.
    let id: String

    /// Every image of `request`, in message order; throws `invalidRequest` for one that does not decode.
    static func all(in request: GenerationRequest, library: MultimodalLibrary) throws(EngineError) -> [DecodedImage] {
        guard case .messages(let messages) = request.input else { return [] }
        var decoded: [DecodedImage] = []
        for (index, image) in messages.flatMap(\.images).enumerated() {
            let (raster, id) = try ImageRaster.decode(image, with: library, index: index)
            decoded.append(DecodedImage(source: image, raster: raster, id: id))
        }
        return decoded
    }
}

/// The rkllm engine's vision side, on the engine thread: the RKNN encoder (opened after the LLM, as the
/// vendor's demo does) and the embeddings of recent images, so a repeated image is not encoded again.
final class RKLLMVision {
    let encoder: RKNNEncoder
    let tags: RKLLMImages.Tags
    private var recent = RecentEmbeddings()

    init(_ configuration: RKLLMEngine.Configuration.Vision) throws(EngineError) {
        encoder = try RKNNEncoder(
            libraryPath: configuration.libraryPath, modelPath: configuration.encoderPath, cores: configuration.cores)
        tags = RKLLMImages.Tags(start: configuration.start, end: configuration.end, content: configuration.content)
    }

    /// The embeddings of `images` (each found among `decoded`), with how many were encoded and how long that took.
    func embed(_ images: [ImageInput], decoded: [DecodedImage]) throws(EngineError) -> (
        RKLLMImages, encoded: Int, encodeMs: Double
    ) {
        var embeddings: [Float] = []
        var encoded = 0
        var encodeMs = 0.0
        for image in images {
            guard let found = decoded.first(where: { $0.source == image }) else {
                throw EngineError(.invalidRequest, "an image of the conversation was not decoded")
            }
            if let held = recent.take(found.id) {
                embeddings += held
                continue
            }
            let start = ContinuousClock.now
            let vectors = try encoder.encode(found.raster)
            encodeMs += milliseconds(ContinuousClock.now - start)
            encoded += 1
            recent.remember(found.id, vectors)
            embeddings += vectors
        }
        let batch = RKLLMImages(
            embeddings: embeddings, count: images.count, tokens: encoder.tokens, imageWidth: encoder.inputWidth,
            imageHeight: encoder.inputHeight, tags: tags)
        return (batch, encoded, encodeMs)
    }
}
