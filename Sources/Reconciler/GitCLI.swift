internal import Foundation

/// Runs the `git` command line (no library: the CLI is on every board, speaks every transport and uses
/// the system's credentials helpers and SSH config).
struct GitCLI: Sendable {
    var executable = "/usr/bin/env"
    /// A fetch that hangs (a dead network) is killed after this long.
    var timeout: Duration = .seconds(120)

    /// stdout, trimmed; throws with git's stderr when it fails.
    @discardableResult
    func run(_ arguments: [String], in directory: URL? = nil) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["git"] + (directory.map { ["-C", $0.path] } ?? []) + arguments
        var environment = ProcessInfo.processInfo.environment
        // Never wait for a password on a terminal nobody watches.
        environment["GIT_TERMINAL_PROMPT"] = "0"
        environment["LC_ALL"] = "C"
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        let timeout = timeout
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        defer { watchdog.cancel() }
        let status = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: ReconcilerError(.gitFailed, "cannot run git: \(error)"))
            }
        }
        let stdout = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard status == 0 else {
            let message = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw ReconcilerError(
                .gitFailed, "git \(arguments.first ?? "") failed (status \(status)): \(message.isEmpty ? stdout : message)")
        }
        return stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
