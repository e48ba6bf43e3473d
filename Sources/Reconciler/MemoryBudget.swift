public import Manifest

/// How many bytes the models may use together.
public enum MemoryBudget {
    /// The manifest's `device.memory.budget` as written; otherwise what this machine can give: its available
    /// memory, plus what our own running workers hold (`held`), minus a reserve.
    ///
    /// `MemAvailable` is the kernel's own estimate of what can still be allocated without swapping (free
    /// memory and page cache it can drop). Our resident workers are not in it, yet their memory is ours to
    /// hand out again (stopping or evicting one frees it), so it is added back. The reserve keeps room for
    /// everything that is not a model: the kernel, the runner itself, other services, and page cache, whose
    /// loss would slow the device down long before it ran out. The result is never below 0.
    public static func bytes(_ memory: ResolvedMemory, machine: MemInfo, held: Int64 = 0) -> Int64 {
        if let budget = memory.budget { return budget }
        let reserve = memory.reserve ?? defaultReserve(total: machine.total)
        return max(0, machine.available + held - reserve)
    }

    /// 10 % of the machine's memory, at least 256 MiB (which matters on boards with 1 or 2 GiB).
    public static func defaultReserve(total: Int64) -> Int64 { max(256 << 20, total / 10) }
}
