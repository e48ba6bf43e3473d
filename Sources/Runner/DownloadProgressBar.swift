import Foundation
import Reconciler
import Synchronization

/// One redrawn line per download on a terminal: `downloading qwen3: 312.4 / 905.1 MB [#####.......] 34%`.
/// Not drawn when stderr is a pipe or a file; the structured log lines carry the progress there.
final class DownloadProgressBar: Sendable {
    private struct Line {
        var drawnAt: ContinuousClock.Instant?
        /// Whether the cursor sits at the end of an unfinished bar.
        var open = false
    }

    private let line = Mutex(Line())

    /// Nil when stderr is not a terminal.
    static func forTerminal() -> DownloadProgressBar? { isatty(STDERR_FILENO) == 1 ? DownloadProgressBar() : nil }

    func draw(model: String, _ progress: HubProgress) {
        let now = ContinuousClock.now
        // At most ten redraws a second, but always the last one.
        let due = line.withLock { line in
            if !progress.finished, let last = line.drawnAt, now - last < .milliseconds(100) { return false }
            line.drawnAt = now
            line.open = !progress.finished
            return true
        }
        guard due else { return }
        let end = progress.finished ? "\n" : ""
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + Self.line(model: model, progress) + end).utf8))
    }

    /// Ends a bar left unfinished by a failed download, so the error that follows gets its own line.
    func endLine() {
        let open = line.withLock { line in
            defer { line.open = false }
            return line.open
        }
        if open { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func line(model: String, _ progress: HubProgress) -> String {
        let done = megabytes(progress.bytes)
        guard let total = progress.total, total > 0 else { return "downloading \(model): \(done) MB" }
        let fraction = min(1, Double(progress.bytes) / Double(total))
        let filled = Int(fraction * 20)
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 20 - filled)
        return "downloading \(model): \(done) / \(megabytes(total)) MB [\(bar)] \(Int(fraction * 100))%"
    }

    private static func megabytes(_ bytes: Int64) -> String { String(format: "%.1f", Double(bytes) / 1e6) }
}
