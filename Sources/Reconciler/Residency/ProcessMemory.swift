internal import Foundation

/// A process's memory as the kernel reports it.
enum ProcessMemory {
    /// `VmRSS` of `/proc/PID/status`: the pages of the process in RAM, its mapped model file included.
    static func residentBytes(pid: Int32, proc: String = "/proc") -> Int64? {
        guard let status = try? String(contentsOfFile: "\(proc)/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, let kilobytes = Int64(fields[1]) else { return nil }
            return kilobytes * 1024
        }
        return nil
    }
}
