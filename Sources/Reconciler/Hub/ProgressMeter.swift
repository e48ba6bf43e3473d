internal import Foundation
internal import Logging

/// Hands every step of a download to the caller's callback and logs a structured line at most once per
/// interval, with the rate since the previous line.
struct ProgressMeter {
    let file: HubFile
    let logger: Logger
    let callback: @Sendable (HubProgress) -> Void
    let logInterval: Duration?
    var total: Int64?
    private var lastLog = ContinuousClock.now
    private var lastLogBytes: Int64 = 0

    init(file: HubFile, logger: Logger, logInterval: Duration?, callback: @escaping @Sendable (HubProgress) -> Void) {
        self.file = file
        self.logger = logger
        self.logInterval = logInterval
        self.callback = callback
    }

    mutating func start(at bytes: Int64, total: Int64?) {
        self.total = total
        lastLog = .now
        lastLogBytes = bytes
        logger.info("downloading", metadata: metadata(bytes).merging(["resumedAt": "\(bytes)"]) { $1 })
        callback(HubProgress(file: file, bytes: bytes, total: total))
    }

    mutating func update(_ bytes: Int64) {
        callback(HubProgress(file: file, bytes: bytes, total: total))
        let elapsed = ContinuousClock.now - lastLog
        guard let logInterval, elapsed >= logInterval else { return }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = Double(bytes - lastLogBytes) / max(seconds, 0.001) / 1e6
        logger.info("downloading", metadata: metadata(bytes).merging(["MBps": "\(String(format: "%.1f", rate))"]) { $1 })
        lastLog = .now
        lastLogBytes = bytes
    }

    func finish(_ bytes: Int64) {
        callback(HubProgress(file: file, bytes: bytes, total: bytes, finished: true))
    }

    private func metadata(_ bytes: Int64) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["repo": "\(file.repo)", "file": "\(file.file)", "bytes": "\(bytes)"]
        if let total, total > 0 {
            metadata["total"] = "\(total)"
            metadata["percent"] = "\(bytes * 100 / total)"
        }
        return metadata
    }
}
