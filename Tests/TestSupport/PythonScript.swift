public import Foundation

/// A Python program of the test environment (`.deps/venv/bin/python`) run to its end, on a thread of its own:
/// waiting on a child process must not hold one of the few threads Swift concurrency has.
public struct PythonScript: Sendable {
    public let status: Int32
    public let stdout: Data
    public let stderr: String

    /// stdout as one JSON object, or nil.
    public var json: [String: Any]? { try? JSONSerialization.jsonObject(with: stdout) as? [String: Any] }

    /// Runs `python arguments…` (in `environment` when given, else this process's). stderr goes to a file, so a
    /// chatty program cannot fill a pipe nobody reads.
    public static func run(_ python: String, _ arguments: [String], environment: [String: String]? = nil) async throws
        -> PythonScript
    {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try runBlocking(python, arguments, environment) })
            }
        }
    }

    private static func runBlocking(_ python: String, _ arguments: [String], _ environment: [String: String]?) throws
        -> PythonScript
    {
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errors) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let stderr = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        return PythonScript(status: process.terminationStatus, stdout: data, stderr: stderr)
    }
}
