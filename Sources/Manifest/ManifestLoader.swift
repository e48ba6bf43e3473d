internal import Foundation
internal import Yams

/// Reads, decodes, resolves and validates a manifest, reporting every problem at once.
public struct ManifestLoader: Sendable {
    /// The only things validation asks of the machine, injectable for tests.
    public struct Environment: Sendable {
        public var fileExists: @Sendable (String) -> Bool

        public init(fileExists: @escaping @Sendable (String) -> Bool) { self.fileExists = fileExists }

        public static let live = Environment(fileExists: { FileManager.default.fileExists(atPath: $0) })
    }

    public struct Result: Sendable {
        /// The manifest as written, when it could be decoded at all.
        public var manifest: Manifest?
        /// Set only when there is no error.
        public var resolved: ResolvedManifest?
        /// In file order.
        public var diagnostics: [Diagnostic]
        /// Where each entry of `models` starts, in declaration order, for problems found after loading.
        public var modelPositions: [(line: Int, column: Int)] = []
    }

    public var environment: Environment

    public init(environment: Environment = .live) { self.environment = environment }

    public func load(file path: String) -> Result {
        guard FileManager.default.fileExists(atPath: path) else {
            return Result(diagnostics: [Diagnostic(.error, file: path, line: 1, column: 1, message: "no such file")])
        }
        do {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let base = ((path as NSString).deletingLastPathComponent as NSString).standardizingPath
            let absoluteBase =
                base.hasPrefix("/") ? base : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(base)
            return load(text: text, file: path, baseDirectory: (absoluteBase as NSString).standardizingPath)
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? "cannot read the file"
            return Result(diagnostics: [Diagnostic(.error, file: path, line: 1, column: 1, message: reason)])
        }
    }

    /// - Parameters:
    ///   - file: the name used in diagnostics.
    ///   - baseDirectory: absolute directory relative paths in the manifest are resolved against.
    public func load(text: String, file: String, baseDirectory: String) -> Result {
        func diagnostic(_ severity: Diagnostic.Severity, _ line: Int, _ column: Int, _ message: String) -> Diagnostic {
            Diagnostic(severity, file: file, line: line, column: column, message: message)
        }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                return Result(diagnostics: [diagnostic(.error, 1, 1, "the manifest is empty")])
            }
            root = node
        } catch {
            let (line, column, message) = Self.describeSyntaxError(error, in: text)
            return Result(diagnostics: [diagnostic(.error, line, column, message)])
        }

        let session = DecodeSession()
        let manifest: Manifest
        do {
            manifest = try session.decode(Manifest.self, from: root, at: .root, silent: false)
        } catch {
            // Only a type outside this module's schema could get here; say so rather than guess a position.
            return Result(diagnostics: [diagnostic(.error, 1, 1, "cannot decode the manifest: \(error)")])
        }
        var diagnostics = session.findings.map { diagnostic(.error, $0.line, $0.column, $0.message) }
        var resolver = ManifestResolver(
            manifest: manifest, marks: session.marks, poisonedPaths: session.findings.map(\.path), baseDirectory: baseDirectory,
            environment: environment)
        let resolved = resolver.resolve()
        for finding in resolver.findings {
            diagnostics.append(diagnostic(finding.severity, finding.line, finding.column, finding.message))
        }
        diagnostics = Array(Set(diagnostics)).sortedByPosition()
        let modelPositions = manifest.models.indices.map {
            resolver.position(of: ManifestPath.root.appending("models").appending($0))
        }
        return Result(
            manifest: manifest, resolved: diagnostics.hasErrors ? nil : resolved, diagnostics: diagnostics,
            modelPositions: modelPositions)
    }

    static func describeSyntaxError(_ error: any Error, in text: String) -> (line: Int, column: Int, message: String) {
        guard let yamlError = error as? YamlError else { return (1, 1, "\(error)") }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let detail = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            return (mark.line, mark.column, "YAML syntax: \(problem)\(detail)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return (context.mark.line, context.mark.column, "key \(keys) appears more than once in the same mapping")
        case .reader(let problem, let offset, _, _):
            let (line, column) = position(ofByte: offset ?? 0, in: text)
            return (line, column, "cannot read the text: \(problem)")
        default:
            return (1, 1, "YAML: \(yamlError)")
        }
    }

    static func position(ofByte offset: Int, in text: String) -> (line: Int, column: Int) {
        let prefix = text.utf8.prefix(offset)
        let line = prefix.filter { $0 == UInt8(ascii: "\n") }.count + 1
        let column = prefix.reversed().prefix { $0 != UInt8(ascii: "\n") }.count + 1
        return (line, column)
    }
}
