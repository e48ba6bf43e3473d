import Foundation
import Manifest
import Reconciler
import Testing

/// Planning and pinning against a fake RK3588 sysfs tree, with `FakeKernel` playing the kernel.
struct DeviceClockPinningTests {
    typealias Tree = FakeSysfsTree

    /// What every knob should hold after pinning an RK3588 (rknn-llm's fix_freq_rk3588.sh).
    static let pinned: [(path: String, value: String)] =
        (0...7).map { (Tree.idle($0), "1") } + [
            ("\(Tree.npu)/governor", "userspace"), ("\(Tree.npu)/cur_freq", "1000000000"),
            ("\(Tree.policy(0))/scaling_governor", "userspace"), ("\(Tree.policy(0))/scaling_cur_freq", "1800000"),
            ("\(Tree.policy(4))/scaling_governor", "userspace"), ("\(Tree.policy(4))/scaling_cur_freq", "2352000"),
            ("\(Tree.policy(6))/scaling_governor", "userspace"), ("\(Tree.policy(6))/scaling_cur_freq", "2352000"),
            ("\(Tree.gpu)/governor", "userspace"), ("\(Tree.gpu)/cur_freq", "1000000000"),
            ("\(Tree.dmc)/governor", "userspace"), ("\(Tree.dmc)/cur_freq", "2112000000"),
        ]

    func status(_ result: ClockResult, _ knob: String) -> ClockOutcome.Status? {
        result.outcomes.first { $0.knob == knob }?.status
    }

    @Test func planListsEveryKnobAndWritesNothing() throws {
        let tree = try Tree.rk3588()
        defer { tree.cleanUp() }
        let plan = try tree.pinning().plan(soc: .auto, policy: .pinned)
        #expect(plan.soc.soc == .rk3588)
        #expect(plan.actions.count == 14)
        #expect(plan.actions.allSatisfy { $0.change == .set })
        let policy0 = try #require(plan.actions.first { $0.knob == "cpu policy0" })
        #expect(policy0.from == "schedutil 816000")
        #expect(policy0.to == "userspace 1800000")
        #expect(policy0.path == tree.root.appendingPathComponent("\(Tree.policy(0))/scaling_setspeed").path)
        #expect(plan.actions.first { $0.knob == "cpuidle cpu7" }?.to == "1")
        #expect(tree.read("\(Tree.policy(0))/scaling_governor") == "schedutil")
        #expect(!FileManager.default.fileExists(atPath: tree.record.path))
    }

    @Test func pinWritesEveryKnobAndRecordsTheOriginals() throws {
        let tree = try Tree.rk3588()
        defer { tree.cleanUp() }
        let result = try tree.pinning().pin(soc: .auto)
        #expect(result.succeeded, "\(result.failures)")
        #expect(result.outcomes.count == 14)
        #expect(result.outcomes.allSatisfy { $0.status == .pinned }, "\(result.outcomes)")
        for (path, value) in Self.pinned { #expect(tree.read(path) == value, "\(path)") }

        let record = try JSONDecoder.iso8601.decode(ClockRecord.self, from: Data(contentsOf: tree.record))
        #expect(record.soc == .rk3588)
        #expect(record.entries.count == 14)
        let dmc = try #require(record.entries.first { $0.knob.name == "ddr" })
        #expect(dmc.originalGovernor == "dmc_ondemand")
        #expect(dmc.originalValue == "528000000")
        #expect(dmc.pinnedValue == "2112000000")
        #expect(record.entries.first { $0.knob.name == "cpuidle cpu3" }?.originalValue == "0")

        // Pinned already: nothing to write, and the record still holds the device's own originals.
        let again = try tree.pinning().pin(soc: .rk3588)
        #expect(again.outcomes.allSatisfy { $0.status == .unchanged }, "\(again.outcomes)")
        #expect(try tree.pinning().plan(soc: .rk3588, policy: .pinned).hasChanges == false)
        let kept = try JSONDecoder.iso8601.decode(ClockRecord.self, from: Data(contentsOf: tree.record))
        #expect(kept.entries.first { $0.knob.name == "ddr" }?.originalGovernor == "dmc_ondemand")
        #expect(kept.entries.first { $0.knob.name == "cpu policy4" }?.originalValue == "1200000")
    }

    @Test func aFrequencyTheBoardDoesNotOfferBecomesTheHighestBelowIt() throws {
        let tree = try Tree.rk3588()
        defer { tree.cleanUp() }
        // A lower-binned part whose little cluster stops at 1.704 GHz, and a GPU that only goes higher.
        try tree.write("408000 816000 1416000 1704000", to: "\(Tree.policy(0))/scaling_available_frequencies")
        try tree.write("1100000000 1200000000", to: "\(Tree.gpu)/available_frequencies")
        let plan = try tree.pinning().plan(soc: .rk3588, policy: .pinned)
        let policy0 = try #require(plan.actions.first { $0.knob == "cpu policy0" })
        #expect(policy0.to == "userspace 1704000")
        #expect(policy0.reason == "1800000 not available; highest available below it")
        let gpu = try #require(plan.actions.first { $0.knob == "gpu" })
        #expect(gpu.to == "userspace 1100000000")
        #expect(gpu.reason == "1000000000 not available; nearest available (all are higher)")
        #expect(plan.actions.first { $0.knob == "npu" }?.reason == "available")

        _ = try tree.pinning().pin(soc: .rk3588)
        #expect(tree.read("\(Tree.policy(0))/scaling_cur_freq") == "1704000")
        #expect(try tree.pinning().observeDrift().isEmpty)
    }

    @Test func verificationCatchesAKnobTheKernelRefused() throws {
        let tree = try Tree.rk3588()
        defer { tree.cleanUp() }
        let kernel = FakeKernel(root: tree.root, refused: ["\(Tree.npu)/userspace/set_freq"])
        let result = try tree.pinning(kernel).pin(soc: .rk3588)
        #expect(!result.succeeded)
        #expect(result.failures.map(\.knob) == ["npu"])
        let npu = try #require(result.failures.first)
        #expect(npu.status == .notTaken)
        #expect(npu.detail == "\(tree.root.path)/\(Tree.npu)/cur_freq reads 300000000 after writing 1000000000")
        #expect(status(result, "cpu policy6") == .pinned)
    }

    @Test func aMissingKnobIsSkippedAndTheOthersArePinned() throws {
        let tree = try Tree.rk3588()
        defer { tree.cleanUp() }
        try tree.remove(Tree.gpu)
        let plan = try tree.pinning().plan(soc: .rk3588, policy: .pinned)
        let gpu = try #require(plan.actions.first { $0.knob == "gpu" })
        #expect(gpu.change == .skip)
        #expect(gpu.reason == "\(tree.root.path)/\(Tree.gpu)/governor does not exist")
        let result = try tree.pinning().pin(soc: .rk3588)
        #expect(status(result, "gpu") == .skipped)
        #expect(result.succeeded)
        #expect(result.outcomes.filter { $0.status == .pinned }.count == 13)
    }

    @Test func aNonRockchipDeviceIsSkippedWithTheReason() throws {
        let tree = try Tree.rk3588(compatible: "raspberrypi,4-model-b\0brcm,bcm2711\0")
        defer { tree.cleanUp() }
        let plan = try tree.pinning().plan(soc: .auto, policy: .pinned)
        #expect(plan.soc.soc == .generic)
        #expect(plan.actions.count == 1)
        #expect(plan.actions.first?.change == .skip)
        #expect(
            plan.actions.first?.reason
                == "soc generic (device tree: raspberrypi,4-model-b, brcm,bcm2711) is not a known Rockchip SoC; no clock is pinned"
        )
        let result = try tree.pinning().pin(soc: .auto)
        #expect(result.outcomes.map(\.status) == [.skipped])
        #expect(tree.read("\(Tree.policy(0))/scaling_governor") == "schedutil")
        #expect(!FileManager.default.fileExists(atPath: tree.record.path))
    }

    @Test func withoutPermissionOnlyThatKnobFails() throws {
        let tree = try Tree.rk3588()
        defer { tree.cleanUp() }
        let kernel = FakeKernel(root: tree.root, denied: ["\(Tree.dmc)/governor"])
        let result = try tree.pinning(kernel).pin(soc: .rk3588)
        #expect(result.failures.map(\.knob) == ["ddr"])
        #expect(result.failures.first?.status == .failed)
        #expect(result.failures.first?.detail == "needs root: cannot write \(tree.root.path)/\(Tree.dmc)/governor")
        #expect(result.outcomes.filter { $0.status == .pinned }.count == 13)
        #expect(tree.read("\(Tree.dmc)/governor") == "dmc_ondemand")
        // Never changed, so neither restored nor watched.
        let record = try JSONDecoder.iso8601.decode(ClockRecord.self, from: Data(contentsOf: tree.record))
        #expect(!record.entries.contains { $0.knob.name == "ddr" })
        #expect(try tree.pinning(kernel).observeDrift().isEmpty)
    }

    @Test func aFileThatCannotBeWrittenFailsThatKnobOnly() throws {
        let tree = try Tree.rk3588()
        defer { tree.cleanUp() }
        // Root writes anything chmod allows, so a directory stands in for an attribute that refuses writes.
        try tree.remove("\(Tree.policy(6))/scaling_setspeed")
        try FileManager.default.createDirectory(
            at: tree.root.appendingPathComponent("\(Tree.policy(6))/scaling_setspeed"), withIntermediateDirectories: false)
        let result = try tree.pinning().pin(soc: .rk3588)
        #expect(result.failures.map(\.knob) == ["cpu policy6"])
        #expect(
            result.failures.first?.detail == "cannot write \(tree.root.path)/\(Tree.policy(6))/scaling_setspeed: Is a directory")
        #expect(status(result, "cpu policy4") == .pinned)
        #expect(status(result, "ddr") == .pinned)
    }
}

extension JSONDecoder {
    /// The state files' date format.
    static var iso8601: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
