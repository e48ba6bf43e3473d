internal import Foundation

#if canImport(Glibc)
    internal import Glibc
#endif

/// Pins this worker process to CPUs (a manifest's `npu.cpus`), so that its threads stay on the cores the
/// NPU runtime is told about and off the ones other models use.
public enum CPUAffinity {
    /// Sets the mask of every thread the process has now; threads started later inherit it from their
    /// creator. Two passes, for a thread created while the first ran. Returns what went wrong, or nil.
    public static func pinProcess(to cpus: [Int]) -> String? {
        #if os(Linux)
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_setaffinity") else {
                return "sched_setaffinity is not available"
            }
            // Glibc does not export it to Swift (it is behind _GNU_SOURCE), so it is looked up.
            typealias SetAffinity = @convention(c) (pid_t, Int, UnsafeRawPointer) -> Int32
            let setAffinity = unsafeBitCast(symbol, to: SetAffinity.self)
            // cpu_set_t: 1024 bits.
            var mask = [UInt](repeating: 0, count: 1024 / UInt.bitWidth)
            for cpu in cpus where cpu >= 0 && cpu < 1024 { mask[cpu / UInt.bitWidth] |= 1 << UInt(cpu % UInt.bitWidth) }
            for _ in 0..<2 {
                let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? ["0"]
                for thread in threads.compactMap({ pid_t($0) }) {
                    let result = mask.withUnsafeBytes { setAffinity(thread, $0.count, $0.baseAddress!) }
                    if result != 0 { return "cpus \(cpus): \(String(cString: strerror(errno)))" }
                }
            }
            return nil
        #else
            return "CPU affinity is only set on Linux"
        #endif
    }
}
