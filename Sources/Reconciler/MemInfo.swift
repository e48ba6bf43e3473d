public import Foundation

/// The machine's memory as `/proc/meminfo` reports it, in bytes.
public struct MemInfo: Sendable, Equatable {
    /// `MemTotal`: the RAM the kernel manages.
    public var total: Int64
    /// `MemAvailable`: what can be allocated without swapping, reclaimable page cache included.
    public var available: Int64

    public struct ReadError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(total: Int64, available: Int64) {
        self.total = total
        self.available = available
    }

    /// Reads a meminfo file (lines like `MemTotal:  16318084 kB`). Kernels before 3.14 have no `MemAvailable`;
    /// there it is approximated as `MemFree + Buffers + Cached`.
    public static func read(from url: URL = URL(fileURLWithPath: "/proc/meminfo")) throws -> MemInfo {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ReadError(description: "cannot read \(url.path): \(error.localizedDescription)")
        }
        var values: [String: Int64] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == ":" || $0 == " " })
            guard parts.count >= 2, let amount = Int64(parts[1]) else { continue }
            let unit = parts.count > 2 ? parts[2].lowercased() : ""
            values[String(parts[0])] = unit == "kb" ? amount * 1024 : amount
        }
        guard let total = values["MemTotal"] else {
            throw ReadError(description: "\(url.path) has no MemTotal line")
        }
        let available =
            values["MemAvailable"] ?? ((values["MemFree"] ?? 0) + (values["Buffers"] ?? 0) + (values["Cached"] ?? 0))
        return MemInfo(total: total, available: available)
    }

    /// A process's resident memory (`VmRSS` in `/proc/PID/status`), or nil when it cannot be read.
    static func residentBytes(of pid: Int32, proc: URL = URL(fileURLWithPath: "/proc")) -> Int64? {
        let status = proc.appendingPathComponent("\(pid)/status")
        guard let text = try? String(contentsOf: status, encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return nil }
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count >= 2, let kilobytes = Int64(parts[1]) else { return nil }
        return kilobytes * 1024
    }
}
