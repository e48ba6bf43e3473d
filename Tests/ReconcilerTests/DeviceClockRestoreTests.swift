import Foundation
import Manifest
import Reconciler
import Testing

/// Drift and restore against a fake RK3588 sysfs tree.
struct DeviceClockRestoreTests {
    typealias Tree = FakeSysfsTree

    @Test func driftBehindTheRunnersBackIsSeenAndPinningAgainCorrectsIt() throws {
        let tree = try Tree.rk3588()
        defer { tree.cleanUp() }
        let pinning = tree.pinning()
        _ = try pinning.pin(soc: .rk3588)
        #expect(try pinning.observeDrift().isEmpty)

        // Someone switches the big cluster back and re-enables an idle state.
        try tree.write("performance", to: "\(Tree.policy(4))/scaling_governor")
        try tree.write("0", to: Tree.idle(5))
        let drift = try pinning.observeDrift()
        #expect(drift.map(\.knob) == ["cpuidle cpu5", "cpu policy4"])
        #expect(drift.last?.path == "\(tree.root.path)/\(Tree.policy(4))/scaling_governor")
        #expect(drift.last?.expected == "userspace")
        #expect(drift.last?.actual == "performance")

        let again = try pinning.pin(soc: .rk3588)
        #expect(again.outcomes.filter { $0.status == .pinned }.map(\.knob) == ["cpuidle cpu5", "cpu policy4"])
        #expect(again.outcomes.filter { $0.status == .unchanged }.count == 12)
        #expect(try pinning.observeDrift().isEmpty)
        #expect(tree.read("\(Tree.policy(4))/scaling_governor") == "userspace")

        // The originals are still the device's, not the drifted values.
        _ = try pinning.restore()
        #expect(tree.read("\(Tree.policy(4))/scaling_governor") == "schedutil")
        #expect(tree.read(Tree.idle(5)) == "0")
    }

    @Test func restorePutsBackTheOriginalsAndRemovesTheRecord() throws {
        let tree = try Tree.rk3588()
        defer { tree.cleanUp() }
        let pinning = tree.pinning()
        _ = try pinning.pin(soc: .auto)

        let plan = try pinning.plan(soc: .auto, policy: .untouched)
        #expect(plan.actions.count == 14)
        #expect(plan.actions.allSatisfy { $0.change == .restore })
        let ddr = try #require(plan.actions.first { $0.knob == "ddr" })
        #expect(ddr.from == "userspace 2112000000")
        #expect(ddr.to == "dmc_ondemand 528000000")

        let result = try pinning.reconcile(soc: .auto, policy: .untouched)
        #expect(result.outcomes.count == 14)
        #expect(result.outcomes.allSatisfy { $0.status == .restored }, "\(result.outcomes)")
        for number in [0, 4, 6] { #expect(tree.read("\(Tree.policy(number))/scaling_governor") == "schedutil") }
        #expect(tree.read("\(Tree.npu)/governor") == "rknpu_ondemand")
        #expect(tree.read("\(Tree.gpu)/governor") == "simple_ondemand")
        #expect(tree.read("\(Tree.dmc)/governor") == "dmc_ondemand")
        for cpu in 0...7 { #expect(tree.read(Tree.idle(cpu)) == "0") }
        #expect(!FileManager.default.fileExists(atPath: tree.record.path))

        // Nothing pinned: nothing to plan, restore or watch.
        #expect(try pinning.plan(soc: .auto, policy: .untouched).actions.isEmpty)
        #expect(try pinning.restore().outcomes.isEmpty)
        #expect(try pinning.observeDrift().isEmpty)
    }

    @Test func aKnobThatWasAlreadyUserspaceGetsItsFrequencyBack() throws {
        let tree = try Tree.rk3588()
        defer { tree.cleanUp() }
        try tree.write("userspace", to: "\(Tree.policy(0))/scaling_governor")
        try tree.write("1008000", to: "\(Tree.policy(0))/scaling_setspeed")
        try tree.write("1008000", to: "\(Tree.policy(0))/scaling_cur_freq")
        let pinning = tree.pinning()
        _ = try pinning.pin(soc: .rk3588)
        #expect(tree.read("\(Tree.policy(0))/scaling_cur_freq") == "1800000")
        let result = try pinning.restore()
        #expect(result.outcomes.first { $0.knob == "cpu policy0" }?.status == .restored)
        #expect(tree.read("\(Tree.policy(0))/scaling_governor") == "userspace")
        #expect(tree.read("\(Tree.policy(0))/scaling_cur_freq") == "1008000")
    }

    @Test func aKnobThatCannotBeRestoredStaysInTheRecord() throws {
        let tree = try Tree.rk3588()
        defer { tree.cleanUp() }
        _ = try tree.pinning().pin(soc: .rk3588)
        let kernel = FakeKernel(root: tree.root, denied: ["\(Tree.gpu)/governor"])
        let result = try tree.pinning(kernel).restore()
        #expect(result.failures.map(\.knob) == ["gpu"])
        #expect(result.failures.first?.detail == "needs root: cannot write \(tree.root.path)/\(Tree.gpu)/governor")
        let record = try JSONDecoder.iso8601.decode(ClockRecord.self, from: Data(contentsOf: tree.record))
        #expect(record.entries.map(\.knob.name) == ["gpu"])

        let retry = try tree.pinning().restore()
        #expect(retry.outcomes.map(\.status) == [.restored])
        #expect(tree.read("\(Tree.gpu)/governor") == "simple_ondemand")
        #expect(!FileManager.default.fileExists(atPath: tree.record.path))
    }
}
