import Foundation

extension ClockPinning {
    /// Pinned attributes whose current value differs from the pinned one, from the record (none when
    /// nothing is pinned). `pin` again puts them back.
    public func observeDrift() throws -> [ClockDrift] {
        guard let recorded = try ClockRecord.load(from: record) else { return [] }
        var drifts: [ClockDrift] = []
        for entry in recorded.entries {
            let knob = entry.knob
            func actual(_ path: String) -> String { (try? sysfs.read(path)) ?? "unreadable" }
            if let path = knob.governorPath, let governor = knob.governor, actual(path) != governor {
                drifts.append(ClockDrift(knob: knob.name, path: sysfs.absolute(path), expected: governor, actual: actual(path)))
            }
            let value = actual(knob.readbackPath)
            if !Self.matches(value, entry.pinnedValue) {
                drifts.append(
                    ClockDrift(
                        knob: knob.name, path: sysfs.absolute(knob.readbackPath), expected: entry.pinnedValue, actual: value))
            }
        }
        return drifts
    }

    /// Writes the recorded originals back: the original governor when it was another one (it then sets the
    /// frequency itself), else the original value. Knobs that fail stay in the record for the next try;
    /// the record is removed once all are restored.
    public func restore() throws -> ClockResult {
        guard var recorded = try ClockRecord.load(from: record) else { return ClockResult(soc: nil, outcomes: []) }
        var outcomes: [ClockOutcome] = []
        var remaining: [ClockRecord.Entry] = []
        for entry in recorded.entries {
            let outcome = restore(entry)
            outcomes.append(outcome)
            if outcome.status != .restored { remaining.append(entry) }
        }
        recorded.entries = remaining
        try recorded.save(to: record)
        return ClockResult(soc: nil, outcomes: outcomes)
    }

    func restore(_ entry: ClockRecord.Entry) -> ClockOutcome {
        let knob = entry.knob
        let write = restoreWrite(entry)
        let detail = Self.describe(governor: entry.originalGovernor, value: entry.originalValue)
        do {
            try sysfs.write(write.value, to: write.path)
        } catch {
            return ClockOutcome(knob: knob.name, path: sysfs.absolute(write.path), status: .failed, detail: error.description)
        }
        let problem =
            write.path == knob.governorPath
            ? readBack(knob, governor: entry.originalGovernor, value: nil)
            : readBack(knob, governor: nil, value: entry.originalValue)
        if let problem {
            return ClockOutcome(knob: knob.name, path: sysfs.absolute(write.path), status: .notTaken, detail: problem)
        }
        return ClockOutcome(knob: knob.name, path: sysfs.absolute(write.path), status: .restored, detail: detail)
    }

    /// The one write that undoes pinning a knob.
    func restoreWrite(_ entry: ClockRecord.Entry) -> (path: String, value: String) {
        if let path = entry.knob.governorPath, let original = entry.originalGovernor, original != entry.knob.governor {
            return (path, original)
        }
        return (entry.knob.valuePath, entry.originalValue)
    }

    /// The plan's line for restoring one recorded knob.
    func restoreAction(_ entry: ClockRecord.Entry) -> ClockAction {
        let knob = entry.knob
        let write = restoreWrite(entry)
        let governor = knob.governorPath.flatMap { try? sysfs.read($0) }
        let value = try? sysfs.read(knob.readbackPath)
        return ClockAction(
            knob: knob.name, change: .restore, path: sysfs.absolute(write.path),
            from: value.map { Self.describe(governor: governor, value: $0) },
            to: Self.describe(governor: entry.originalGovernor, value: entry.originalValue),
            reason: "clocks untouched: back to the values found before pinning")
    }
}
