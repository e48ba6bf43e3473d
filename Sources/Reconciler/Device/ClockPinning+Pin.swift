import Foundation
public import Manifest

extension ClockPinning {
    /// Records the current governor and value of every knob it will hold (keeping originals already
    /// recorded), then writes governor before value (the value file only takes writes under `userspace`),
    /// then reads each back. Throws only when the record cannot be read or written; per-knob problems are
    /// outcomes.
    public func pin(soc: SoC) throws -> ClockResult {
        let resolution = resolve(soc)
        guard let profile = ClockProfile.for(resolution.soc) else {
            let skip = Self.unknownSoC(resolution)
            return ClockResult(soc: resolution, outcomes: [ClockOutcome(knob: skip.knob, status: .skipped, detail: skip.reason)])
        }
        let plans = profile.knobs.map(planKnob)

        let existing = try ClockRecord.load(from: record)
        var updated = existing ?? ClockRecord(soc: resolution.soc, pinnedAt: Date(), entries: [])
        for plan in plans where plan.change != .skip {
            updated.merge(
                ClockRecord.Entry(
                    knob: plan.knob, originalGovernor: plan.currentGovernor, originalValue: plan.currentValue ?? "",
                    pinnedValue: plan.value))
        }
        // Written before any clock changes, so that a crash halfway still leaves what to restore.
        try updated.save(to: record)

        var outcomes: [ClockOutcome] = []
        var untouched: Set<String> = []
        for plan in plans {
            let (outcome, wrote) = apply(plan)
            outcomes.append(outcome)
            if !wrote && outcome.status == .failed { untouched.insert(plan.knob.valuePath) }
        }
        // A knob that refused its first write was never changed: nothing to restore, nothing to watch.
        let recordedBefore = Set(existing?.entries.map(\.knob.valuePath) ?? [])
        let dropped = untouched.subtracting(recordedBefore)
        if !dropped.isEmpty {
            updated.entries.removeAll { dropped.contains($0.knob.valuePath) }
            try updated.save(to: record)
        }
        return ClockResult(soc: resolution, outcomes: outcomes)
    }

    /// The outcome, and whether any write reached the knob.
    func apply(_ plan: KnobPlan) -> (ClockOutcome, Bool) {
        let knob = plan.knob
        func outcome(_ status: ClockOutcome.Status, _ detail: String) -> ClockOutcome {
            ClockOutcome(knob: knob.name, path: plan.absolutePath, status: status, detail: detail)
        }
        let target = Self.describe(governor: knob.governor, value: plan.value)
        switch plan.change {
        case .skip, .restore: return (outcome(.skipped, plan.reason), false)
        case .keep: return (outcome(.unchanged, "\(target) (\(plan.reason))"), false)
        case .set: break
        }
        var wrote = false
        do {
            if let path = knob.governorPath, let governor = knob.governor, plan.currentGovernor != governor {
                try sysfs.write(governor, to: path)
                wrote = true
            }
            try sysfs.write(plan.value, to: knob.valuePath)
            wrote = true
        } catch {
            return (outcome(.failed, error.description), wrote)
        }
        if let problem = readBack(knob, governor: knob.governor, value: plan.value) {
            return (outcome(.notTaken, problem), true)
        }
        return (outcome(.pinned, "\(target) (\(plan.reason))"), true)
    }

    /// nil when the knob reads back as written, else what it reads.
    func readBack(_ knob: ClockKnob, governor: String?, value: String?) -> String? {
        do {
            if let path = knob.governorPath, let governor {
                let actual = try sysfs.read(path)
                if actual != governor { return "\(sysfs.absolute(path)) reads \(actual) after writing \(governor)" }
            }
            if let value {
                let actual = try sysfs.read(knob.readbackPath)
                if !Self.matches(actual, value) {
                    return "\(sysfs.absolute(knob.readbackPath)) reads \(actual) after writing \(value)"
                }
            }
        } catch {
            return error.description
        }
        return nil
    }
}
