/// What a served model can be asked for, in Ollama's words (its `capabilities` list).
public enum ModelCapability: String, Sendable, CaseIterable, Comparable {
    case completion, tools, thinking, vision, embedding

    public static func < (left: Self, right: Self) -> Bool {
        allCases.firstIndex(of: left)! < allCases.firstIndex(of: right)!
    }
}

extension Set<ModelCapability> {
    /// The wire form, in a stable order.
    var words: [String] { sorted().map(\.rawValue) }
}
