public import Foundation

/// A Python program of the test environment (`.deps/venv/bin/python`) run to its end, stdout kept and parsed.
/// It runs on the calling task's thread: the programs are short, and the suite's timing (which of its many
/// model-running tests overlap on 2 cores) was tuned with them waited for in place.
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
        try runBlocking(python, arguments, environment)
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
