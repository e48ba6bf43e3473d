import Foundation

/// Runs the built `runner` executable as a user would, capturing exit status and both output streams.
struct RunnerProcess {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The test bundle and the `runner` product are built into the same directory.
    static let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent("runner")

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// - Parameter environment: the whole environment of the child; by default only PATH and HOME, so nothing
    ///   from the test's own environment (such as the llama.cpp library path) leaks in.
    static func run(
        _ arguments: [String], environment: [String: String]? = nil, in directory: URL = repository,
        executable: URL = executable
    ) throws -> Output {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = environment ?? ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting so a full pipe cannot block the child.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A runner left running in the background; its output goes to files read once it has stopped.
    struct Background {
        let process: Process
        let stdoutURL: URL
        let stderrURL: URL

        func output() -> Output {
            Output(
                status: process.isRunning ? -1 : process.terminationStatus,
                stdout: (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "",
                stderr: (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "")
        }
    }

    static func start(_ arguments: [String], environment: [String: String], in directory: URL = repository) throws
        -> Background
    {
        let workingDirectory = directory
        let directory = try temporaryDirectory()
        let stdoutURL = directory.appendingPathComponent("stdout")
        let stderrURL = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = workingDirectory
        process.environment = environment
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try process.run()
        return Background(process: process, stdoutURL: stdoutURL, stderrURL: stderrURL)
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("runner-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
