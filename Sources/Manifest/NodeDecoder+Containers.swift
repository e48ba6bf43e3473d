internal import Yams

// The three container kinds of `NodeDecoder`. None of them throws for bad input (see DecodeSession).

struct MappingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: NodeDecoder
    let entries: [(key: Node, value: Node)]

    var codingPath: [any CodingKey] { decoder.codingPath }

    var allKeys: [Key] { entries.compactMap { $0.key.string.flatMap(Key.init(stringValue:)) } }

    private func value(for key: Key) -> Node? {
        decoder.tracker.note(key.stringValue)
        return entries.first { $0.key.string == key.stringValue }?.value
    }

    func contains(_ key: Key) -> Bool { value(for: key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool { value(for: key).map(decoder.isNull) ?? true }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let path = decoder.path.appending(key.stringValue)
        guard let node = value(for: key), !decoder.isNull(node) else {
            if !decoder.silent {
                let mark = value(for: key)?.mark ?? decoder.node?.mark
                let place = decoder.path.components.isEmpty ? "" : " in \(decoder.path)"
                decoder.session.record("missing required key '\(key.stringValue)'\(place)", at: path, mark: mark)
            }
            return try decoder.session.decode(type, from: nil, at: path, silent: true)
        }
        return try decoder.session.decode(type, from: node, at: path, silent: decoder.silent)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let node = value(for: key), !decoder.isNull(node) else { return nil }
        return try decoder.session.decode(type, from: node, at: decoder.path.appending(key.stringValue), silent: decoder.silent)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try child(key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { decoder }

    func superDecoder(forKey key: Key) throws -> any Decoder { child(key) }

    private func child(_ key: Key) -> NodeDecoder {
        NodeDecoder(
            node: value(for: key), path: decoder.path.appending(key.stringValue), session: decoder.session, silent: decoder.silent
        )
    }
}

struct SequenceContainer: UnkeyedDecodingContainer {
    let decoder: NodeDecoder
    let elements: [Node]
    private(set) var currentIndex = 0

    init(decoder: NodeDecoder, elements: [Node]) {
        self.decoder = decoder
        self.elements = elements
    }

    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    private mutating func next() -> (node: Node?, path: ManifestPath) {
        defer { currentIndex += 1 }
        let path = decoder.path.appending(currentIndex)
        return (currentIndex < elements.count ? elements[currentIndex] : nil, path)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, decoder.isNull(elements[currentIndex]) else { return isAtEnd }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (node, path) = next()
        if let node, decoder.isNull(node), !decoder.silent {
            decoder.session.record("\(path): empty list item", at: path, mark: node.mark)
            return try decoder.session.decode(type, from: nil, at: path, silent: true)
        }
        return try decoder.session.decode(type, from: node, at: path, silent: decoder.silent || node == nil)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey>
    {
        let (node, path) = next()
        return try NodeDecoder(node: node, path: path, session: decoder.session, silent: decoder.silent).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (node, path) = next()
        return try NodeDecoder(node: node, path: path, session: decoder.session, silent: decoder.silent).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let (node, path) = next()
        return NodeDecoder(node: node, path: path, session: decoder.session, silent: decoder.silent)
    }
}

struct SingleValue: SingleValueDecodingContainer {
    let decoder: NodeDecoder

    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool { decoder.node.map(decoder.isNull) ?? true }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try decoder.session.decode(type, from: decoder.node, at: decoder.path, silent: decoder.silent)
    }
}
