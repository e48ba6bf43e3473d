public import Foundation
public import Manifest

/// Pins a Rockchip board's clocks the way Rockchip's `fix_freq_<soc>.sh` scripts do, remembers what it
/// changed, and undoes it. Every knob is handled on its own: one that is missing, refused or not permitted
/// is reported and the others go ahead.
///
/// Order of use: `plan` (reads only), `pin` (records originals, writes, reads back), `observeDrift`,
/// `restore`; `reconcile` picks `pin` or `restore` from the manifest's `clocks`.
public struct ClockPinning: Sendable {
    public var sysfs: any SysfsAccess
    /// The record file, normally `StateDirectory.clockRecord`.
    public var record: URL

    /// `root` stands for `/`: a device's real tree by default, a temporary tree in tests, or a host tree
    /// mounted elsewhere in a container.
    public init(root: URL = URL(fileURLWithPath: "/"), record: URL) {
        self.init(sysfs: SysfsFiles(root: root), record: record)
    }

    public init(sysfs: any SysfsAccess, record: URL) {
        self.sysfs = sysfs
        self.record = record
    }

    public func resolve(_ soc: SoC) -> SoCResolution { SoCDetection.resolve(soc, in: sysfs) }

    /// What `reconcile` would do. Reads the device and the record; writes nothing.
    public func plan(soc: SoC, policy: ClockPolicy) throws -> ClockPlan {
        let resolution = resolve(soc)
        switch policy {
        case .untouched:
            let actions = try ClockRecord.load(from: record)?.entries.map(restoreAction) ?? []
            return ClockPlan(soc: resolution, policy: policy, actions: actions)
        case .pinned:
            guard let profile = ClockProfile.for(resolution.soc) else {
                return ClockPlan(soc: resolution, policy: policy, actions: [Self.unknownSoC(resolution)])
            }
            return ClockPlan(soc: resolution, policy: policy, actions: profile.knobs.map { planKnob($0).action })
        }
    }

    /// `pin` for `clocks: pinned`, `restore` for `clocks: untouched` (nothing when nothing was pinned).
    public func reconcile(soc: SoC, policy: ClockPolicy) throws -> ClockResult {
        switch policy {
        case .pinned: try pin(soc: soc)
        case .untouched: try restore()
        }
    }

    static func unknownSoC(_ resolution: SoCResolution) -> ClockAction {
        let seen =
            resolution.compatible.isEmpty
            ? "no device tree" : "device tree: \(resolution.compatible.joined(separator: ", "))"
        return ClockAction(
            knob: "clocks", change: .skip, path: nil, from: nil, to: nil,
            reason: "soc \(resolution.soc.rawValue) (\(seen)) is not a known Rockchip SoC; no clock is pinned")
    }

    /// `userspace 1800000`, or the value alone for a knob without a governor.
    static func describe(governor: String?, value: String?) -> String {
        [governor, value].compactMap { $0 }.joined(separator: " ")
    }
}

/// One knob's plan: what is there now and what would be written.
struct KnobPlan {
    var knob: ClockKnob
    var change: ClockAction.Change
    var reason: String
    var absolutePath: String
    /// The value to write (the chosen frequency); meaningful unless skipped.
    var value: String = ""
    var currentGovernor: String?
    var currentValue: String?

    var action: ClockAction {
        ClockAction(
            knob: knob.name, change: change, path: absolutePath,
            from: currentValue.map { ClockPinning.describe(governor: currentGovernor, value: $0) },
            to: change == .skip ? nil : ClockPinning.describe(governor: knob.governor, value: value), reason: reason)
    }
}

extension ClockPinning {
    func planKnob(_ knob: ClockKnob) -> KnobPlan {
        var plan = KnobPlan(knob: knob, change: .skip, reason: "", absolutePath: sysfs.absolute(knob.valuePath))
        // devfreq creates `userspace/set_freq` only while its governor is userspace, so a value file behind a
        // governor may appear later; the write reports it if it still does not.
        let valueFile = knob.governor == nil ? knob.valuePath : nil
        let needed = [knob.governorPath, valueFile, knob.currentPath].compactMap { $0 }
        if let missing = needed.first(where: { !sysfs.exists($0) }) {
            plan.reason = "\(sysfs.absolute(missing)) does not exist"
            return plan
        }
        if let governor = knob.governor, let listPath = knob.availableGovernorsPath,
            let offered = try? sysfs.read(listPath).split(whereSeparator: \.isWhitespace),
            !offered.contains(Substring(governor))
        {
            plan.reason = "governor \(governor) not offered (\(offered.joined(separator: " ")))"
            return plan
        }
        do {
            plan.currentGovernor = try knob.governorPath.map { path throws(SysfsError) in try sysfs.read(path) }
            plan.currentValue = try sysfs.read(knob.readbackPath)
        } catch {
            plan.reason = error.description
            return plan
        }
        let available = knob.availableValuesPath.flatMap { try? sysfs.read($0) }.flatMap(FrequencyChoice.parse)
        let choice = FrequencyChoice.choose(target: knob.target, available: available)
        plan.value = String(choice.value)
        plan.reason = choice.note(target: knob.target)
        let holds = plan.currentGovernor == knob.governor && Self.matches(plan.currentValue ?? "", plan.value)
        plan.change = holds ? .keep : .set
        return plan
    }

    /// Whether a value read back is the one written. A clock's rate may land a little off its operating
    /// point (PLL rounding), so frequencies within 1% count as equal; anything else must match exactly.
    static func matches(_ actual: String, _ expected: String) -> Bool {
        guard let actual = Int(actual), let expected = Int(expected) else { return actual == expected }
        return abs(actual - expected) <= expected / 100
    }
}
