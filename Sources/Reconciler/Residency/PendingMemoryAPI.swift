// TEMPORARY: stand-ins until the memory-budget branch is merged.
public import Foundation
public import Manifest

public struct ResolvedMemory: Codable, Sendable, Equatable {
    public var budget: Int64?
    public var reserve: Int64?
}
extension ResolvedLifecycle { public var pinned: Bool { false } }
extension ResolvedManifest { public var memory: ResolvedMemory { ResolvedMemory() } }
public struct MemInfo: Sendable, Equatable {
    public var total: Int64
    public var available: Int64
    public static func read(from url: URL = URL(fileURLWithPath: "/proc/meminfo")) throws -> MemInfo {
        MemInfo(total: 0, available: 0)
    }
}
public enum MemoryBudget {
    public static func bytes(_ memory: ResolvedMemory, machine: MemInfo, held: Int64 = 0) -> Int64 { memory.budget ?? 1 << 40 }
}
public enum ModelFootprint {
    public static func estimate(_ model: ResolvedModel, file: String?) -> Int64? { nil }
}
