internal import Foundation
internal import Yams

/// Decodes `Codable` manifest types straight from a composed YAML node tree, collecting every problem
/// instead of stopping at the first.
///
/// Yams' own decoder reports schema errors with a coding path but no position, and stops at the first one.
/// This decoder knows each node's mark, so every diagnostic points at the line and column to edit, and it
/// never throws for bad input: after recording a problem it hands the type a placeholder and goes on. The
/// schema stays in one place — the `Codable` types — because unknown keys are found by comparing a mapping's
/// keys with the keys its type asked for.
final class DecodeSession {
    struct Finding {
        var path: ManifestPath
        var line: Int
        var column: Int
        var message: String
    }

    private(set) var findings: [Finding] = []
    /// Where each decoded value sits in the file, for the semantic checks that run after decoding.
    private(set) var marks: [ManifestPath: (line: Int, column: Int)] = [:]

    func record(_ message: String, at path: ManifestPath, mark: Mark?) {
        findings.append(Finding(path: path, line: mark?.line ?? 1, column: mark?.column ?? 1, message: message))
    }

    func decode<T: Decodable>(_ type: T.Type, from node: Node?, at path: ManifestPath, silent: Bool) throws -> T {
        if let node, !silent, let mark = node.mark { marks[path] = (mark.line, mark.column) }
        if let scalarType = type as? any ManifestScalar.Type {
            return try decodeScalar(scalarType, from: node, at: path, silent: silent) as! T
        }
        if let value = try decodePrimitive(type, from: node, at: path, silent: silent) {
            return value
        }
        let decoder = NodeDecoder(node: node, path: path, session: self, silent: silent)
        let value = try T(from: decoder)
        if !silent { reportUnknownKeys(of: decoder) }
        return value
    }

    // MARK: Scalars

    private func decodeScalar<S: ManifestScalar>(_ type: S.Type, from node: Node?, at path: ManifestPath, silent: Bool) throws
        -> S
    {
        guard !silent, let node else { return S.placeholder }
        guard let text = scalarText(of: node, expected: "a value", at: path) else { return S.placeholder }
        switch S.parse(text) {
        case .success(let value): return value
        case .failure(let error):
            record("\(path): \(error.message)", at: path, mark: node.mark)
            return S.placeholder
        }
    }

    private func decodePrimitive<T>(_ type: T.Type, from node: Node?, at path: ManifestPath, silent: Bool) throws -> T? {
        func parsed<V>(_ placeholder: V, _ expected: String, _ parse: (String) -> V?) -> T {
            guard !silent, let node, let text = scalarText(of: node, expected: expected, at: path) else {
                return placeholder as! T
            }
            if let value = parse(text) { return value as! T }
            record("\(path): expected \(expected), found '\(text)'", at: path, mark: node.mark)
            return placeholder as! T
        }
        switch type {
        case is String.Type: return parsed("", "a string") { $0 }
        case is Int.Type: return parsed(0, "an integer") { Int($0.replacingOccurrences(of: "_", with: "")) }
        case is Double.Type: return parsed(0.0, "a number") { Double($0) }
        case is Bool.Type: return parsed(false, "true or false", Self.parseBool)
        default: return nil
        }
    }

    static func parseBool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on": true
        case "false", "no", "off": false
        default: nil
        }
    }

    /// The text of a non-null scalar, or a recorded "expected …, found …" problem.
    private func scalarText(of node: Node, expected: String, at path: ManifestPath) -> String? {
        if case .scalar(let scalar) = node, node.null == nil || scalar.style != .plain {
            return scalar.string
        }
        record("\(path): expected \(expected), found \(Self.describe(node))", at: path, mark: node.mark)
        return nil
    }

    static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        case .scalar(let scalar): node.null != nil && scalar.style == .plain ? "nothing" : "'\(scalar.string)'"
        }
    }

    // MARK: Unknown keys

    private func reportUnknownKeys(of decoder: NodeDecoder) {
        guard decoder.tracker.usedKeyedContainer, case .mapping(let mapping)? = decoder.node else { return }
        let known = decoder.tracker.requested
        for (key, _) in mapping {
            let name = key.string ?? ""
            guard !known.contains(name) else { continue }
            let place = decoder.path.components.isEmpty ? "" : " in \(decoder.path)"
            let hint = Suggestion.didYouMean(name, in: decoder.tracker.requestedInOrder)
            record("unknown key '\(name)'\(place)\(hint)", at: decoder.path.appending(name), mark: key.mark)
        }
    }
}

/// Which keys a type asked for while decoding one mapping; shared by the decoder and its containers.
final class KeyTracker {
    var usedKeyedContainer = false
    var requested: Set<String> = []
    var requestedInOrder: [String] = []

    func note(_ key: String) {
        if requested.insert(key).inserted { requestedInOrder.append(key) }
    }
}

struct NodeDecoder: Decoder {
    let node: Node?
    let path: ManifestPath
    let session: DecodeSession
    /// Set when decoding a placeholder after an error: nothing is recorded, every value is a default.
    let silent: Bool
    let tracker = KeyTracker()

    var codingPath: [any CodingKey] {
        path.components.map {
            switch $0 {
            case .key(let key): PathKey(stringValue: key)
            case .index(let index): PathKey(intValue: index)
            }
        }
    }

    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        tracker.usedKeyedContainer = true
        var entries: [(key: Node, value: Node)] = []
        switch node {
        case .mapping(let mapping)?: entries = Array(mapping)
        case let other? where !silent && !isNull(other):
            session.record("\(path): expected a mapping, found \(DecodeSession.describe(other))", at: path, mark: other.mark)
            return KeyedDecodingContainer(MappingContainer<Key>(decoder: self.silenced(), entries: []))
        default: break
        }
        return KeyedDecodingContainer(MappingContainer<Key>(decoder: self, entries: entries))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        switch node {
        case .sequence(let sequence)?: return SequenceContainer(decoder: self, elements: Array(sequence))
        case let other? where !silent && !isNull(other):
            session.record("\(path): expected a list, found \(DecodeSession.describe(other))", at: path, mark: other.mark)
            return SequenceContainer(decoder: silenced(), elements: [])
        default: return SequenceContainer(decoder: self, elements: [])
        }
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleValue(decoder: self) }

    func silenced() -> NodeDecoder { NodeDecoder(node: nil, path: path, session: session, silent: true) }

    func isNull(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node { return node.null != nil && scalar.style == .plain }
        return false
    }
}

struct PathKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        self.stringValue = "[\(intValue)]"
        self.intValue = intValue
    }
}
