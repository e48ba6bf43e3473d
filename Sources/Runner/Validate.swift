import ArgumentParser
import Manifest

extension RunnerCommand {
    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check manifests and report every problem as file:line:col: error: message.",
            discussion: "Exits 1 when any file has an error. Warnings are printed but do not fail.")

        @Argument(help: "Manifest files to check.")
        var files: [String]

        func run() throws {
            var failed = false
            let loader = ManifestLoader()
            for file in files {
                let result = loader.load(file: file)
                for diagnostic in result.diagnostics { Console.error(diagnostic.description) }
                let errors = result.diagnostics.filter { $0.severity == .error }.count
                let warnings = result.diagnostics.count - errors
                if let resolved = result.resolved {
                    let counts =
                        "\(resolved.models.count) model\(resolved.models.count == 1 ? "" : "s"), \(resolved.endpoints.count) endpoint\(resolved.endpoints.count == 1 ? "" : "s")"
                    Console.out(
                        "\(file): valid (\(counts)\(warnings > 0 ? ", \(warnings) warning\(warnings == 1 ? "" : "s")" : ""))")
                } else {
                    failed = true
                    Console.out(
                        "\(file): \(errors) error\(errors == 1 ? "" : "s")\(warnings > 0 ? ", \(warnings) warning\(warnings == 1 ? "" : "s")" : "")"
                    )
                }
            }
            if failed { throw ExitCode.failure }
        }
    }
}
