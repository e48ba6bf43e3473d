import Foundation
import Testing
import Worker

/// Where libllama is looked for, in order, with every candidate laid out in a temporary directory.
struct LlamaLibraryLocatorTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("locator-\(UUID().uuidString)")

    /// `PREFIX/bin/runner` and `PREFIX/lib/rockchipllama/libllama.so`, as `make install` lays them out.
    var prefix: URL { root.appendingPathComponent("prefix") }
    var installedRunner: String { prefix.appendingPathComponent("bin/runner").path }
    var installedLibrary: String { prefix.appendingPathComponent("lib/rockchipllama/libllama.so").path }
    /// A repository with its `.deps` and a built runner deep inside `.build`.
    var repository: URL { root.appendingPathComponent("repo") }
    var builtRunner: String { repository.appendingPathComponent(".build/x86_64-unknown-linux-gnu/release/runner").path }
    var repositoryLibrary: String {
        repository.appendingPathComponent(".deps/venv/lib/python3.11/site-packages/lib/libllama.so").path
    }
    /// Another checkout, entered as the working directory.
    var workingDirectory: URL { root.appendingPathComponent("elsewhere") }
    var workingLibrary: String {
        workingDirectory.appendingPathComponent(".deps/venv/lib/python3.12/site-packages/lib/libllama.so").path
    }

    func touch(_ paths: String...) throws {
        for path in paths {
            try FileManager.default.createDirectory(
                at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
            #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        }
    }

    func locate(manifest: String? = nil, environment: [String: String] = [:], executable: String) -> String {
        LlamaLibraryLocator.locate(
            manifestLibrary: manifest, environment: environment, workingDirectory: workingDirectory.path, executable: executable)
    }

    @Test func theInstalledLayoutNextToTheExecutableIsFound() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        try touch(installedRunner, installedLibrary, workingLibrary)
        #expect(locate(executable: installedRunner) == installedLibrary)
    }

    @Test func theRepositorysDepsAreFoundFromItsBuiltExecutable() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        try touch(builtRunner, repositoryLibrary)
        try FileManager.default.createDirectory(at: workingDirectory, withIntermediateDirectories: true)
        #expect(locate(executable: builtRunner) == repositoryLibrary)
    }

    @Test func theWorkingDirectorysDepsComeBeforeTheExecutables() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        try touch(builtRunner, repositoryLibrary, workingLibrary)
        #expect(locate(executable: builtRunner) == workingLibrary)
    }

    @Test func theManifestThenTheEnvironmentComeFirst() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        try touch(installedRunner, installedLibrary, workingLibrary)
        let environment = ["RUNNER_LLAMA_LIBRARY": "/from/environment/libllama.so"]
        #expect(
            locate(manifest: "/from/manifest.so", environment: environment, executable: installedRunner) == "/from/manifest.so")
        #expect(locate(environment: environment, executable: installedRunner) == "/from/environment/libllama.so")
        #expect(locate(environment: ["RUNNER_LLAMA_LIBRARY": ""], executable: installedRunner) == installedLibrary)
    }

    @Test func withNothingFoundTheDynamicLinkerSearches() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        try touch(installedRunner)
        try FileManager.default.createDirectory(at: workingDirectory, withIntermediateDirectories: true)
        #expect(locate(executable: installedRunner) == "libllama.so")
    }

    @Test func theRealLibraryPassesTheCheckAndOthersSayWhy() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let real = LlamaLibraryLocator.locate(manifestLibrary: nil)
        #expect(LlamaLibraryLocator.problem(with: real) == nil, "\(real)")
        try touch(installedLibrary)
        let problem = try #require(LlamaLibraryLocator.problem(with: installedLibrary))
        #expect(problem.hasPrefix("cannot open \(installedLibrary): "), "\(problem)")
        #expect(LlamaLibraryLocator.problem(with: "/no/such/libllama.so") == "/no/such/libllama.so does not exist")
    }
}
