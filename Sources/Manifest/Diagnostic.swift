/// A problem found in a manifest, pinned to the place in the file a person has to edit.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable, Comparable {
        case error, warning

        public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs == .error && rhs == .warning }
    }

    public var severity: Severity
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(_ severity: Severity, file: String, line: Int, column: Int, message: String) {
        self.severity = severity
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// The compiler-style form editors and CI parse: `file:line:col: error: message`.
    public var description: String { "\(file):\(line):\(column): \(severity.rawValue): \(message)" }
}

extension [Diagnostic] {
    public var hasErrors: Bool { contains { $0.severity == .error } }

    /// File order, so the output reads top to bottom like the manifest itself.
    public func sortedByPosition() -> [Diagnostic] {
        sorted { ($0.file, $0.line, $0.column, $0.severity, $0.message) < ($1.file, $1.line, $1.column, $1.severity, $1.message) }
    }
}

/// A position inside the manifest's node tree, e.g. `models[1].npu.cpus[0]`.
public struct ManifestPath: Sendable, Hashable, CustomStringConvertible {
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public var components: [Component]

    public init(_ components: [Component] = []) { self.components = components }

    public static let root = ManifestPath()

    public func appending(_ key: String) -> ManifestPath { ManifestPath(components + [.key(key)]) }
    public func appending(_ index: Int) -> ManifestPath { ManifestPath(components + [.index(index)]) }

    public var parent: ManifestPath? { components.isEmpty ? nil : ManifestPath(Array(components.dropLast())) }

    /// True when `self` is `other` or lies inside it.
    public func isWithin(_ other: ManifestPath) -> Bool { components.starts(with: other.components) }

    public var description: String {
        var text = ""
        for component in components {
            switch component {
            case .key(let key): text += text.isEmpty ? key : ".\(key)"
            case .index(let index): text += "[\(index)]"
            }
        }
        return text.isEmpty ? "manifest" : text
    }
}
