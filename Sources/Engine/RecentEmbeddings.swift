/// Embeddings of recently encoded images by content hash, most recent last, up to a byte limit: an image
/// sent again (a follow-up turn, another conversation) is not encoded again while it is here.
struct RecentEmbeddings {
    private var entries: [(id: String, embeddings: [Float])] = []
    private var bytes = 0
    let limitBytes: Int

    init(limitBytes: Int = 64 << 20) { self.limitBytes = limitBytes }

    /// The embeddings of image `id`, if held; they count as just used.
    mutating func take(_ id: String) -> [Float]? {
        guard !id.isEmpty, let index = entries.firstIndex(where: { $0.id == id }) else { return nil }
        let entry = entries.remove(at: index)
        entries.append(entry)
        return entry.embeddings
    }

    mutating func remember(_ id: String, _ embeddings: [Float]) {
        guard !id.isEmpty, !entries.contains(where: { $0.id == id }) else { return }
        entries.append((id, embeddings))
        bytes += embeddings.count * MemoryLayout<Float>.size
        while bytes > limitBytes, entries.count > 1 {
            bytes -= entries.removeFirst().embeddings.count * MemoryLayout<Float>.size
        }
    }
}
