public import Manifest

/// One clock setting Rockchip's `fix_freq_<soc>.sh` scripts make: a governor (if any) and a value file.
/// Paths are relative to the sysfs root.
public struct ClockKnob: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case cpu, npu, gpu, ddr, cpuidle }

    /// Shown in plans and results: `cpu policy0`, `npu`, `cpuidle cpu3`.
    public var name: String
    public var kind: Kind
    public var governorPath: String?
    public var availableGovernorsPath: String?
    /// The governor that lets the value file set the clock (`userspace`).
    public var governor: String?
    public var valuePath: String
    public var availableValuesPath: String?
    /// Where the kernel reports the value in effect; nil when the value file itself reads back.
    public var currentPath: String?
    /// Hz for devfreq, kHz for cpufreq, 1 for a disabled idle state.
    public var target: Int

    public var readbackPath: String { currentPath ?? valuePath }

    /// A cpufreq policy under the userspace governor, `target` in kHz.
    static func cpufreq(_ policy: String, directory: String? = nil, kHz target: Int) -> ClockKnob {
        let directory = directory ?? "sys/devices/system/cpu/cpufreq/\(policy)"
        return ClockKnob(
            name: "cpu \(policy)", kind: .cpu, governorPath: "\(directory)/scaling_governor",
            availableGovernorsPath: "\(directory)/scaling_available_governors", governor: "userspace",
            valuePath: "\(directory)/scaling_setspeed", availableValuesPath: "\(directory)/scaling_available_frequencies",
            currentPath: "\(directory)/scaling_cur_freq", target: target)
    }

    /// A devfreq device (NPU, GPU, DDR) under the userspace governor, `target` in Hz.
    static func devfreq(_ device: String, kind: Kind, hz target: Int) -> ClockKnob {
        let directory = "sys/class/devfreq/\(device)"
        return ClockKnob(
            name: kind.rawValue, kind: kind, governorPath: "\(directory)/governor",
            availableGovernorsPath: "\(directory)/available_governors", governor: "userspace",
            valuePath: "\(directory)/userspace/set_freq", availableValuesPath: "\(directory)/available_frequencies",
            currentPath: "\(directory)/cur_freq", target: target)
    }

    /// Idle state 1 disabled: waking from it costs latency on every token.
    static func cpuidle(cpu: Int) -> ClockKnob {
        ClockKnob(
            name: "cpuidle cpu\(cpu)", kind: .cpuidle, governorPath: nil, availableGovernorsPath: nil, governor: nil,
            valuePath: "sys/devices/system/cpu/cpu\(cpu)/cpuidle/state1/disable", availableValuesPath: nil,
            currentPath: nil, target: 1)
    }
}

/// What `clocks: pinned` sets on each SoC: the values of Rockchip's `fix_freq_<soc>.sh` (rknn-llm
/// `scripts/`), in the scripts' order.
public struct ClockProfile: Sendable, Equatable {
    public var soc: SoC
    public var knobs: [ClockKnob]

    /// nil for `generic` and `auto` (resolve `auto` first): no known values.
    public static func `for`(_ soc: SoC) -> ClockProfile? {
        switch soc {
        case .rk3588: rk3588
        case .rk3576: rk3576
        case .rk3562: rk3562
        case .auto, .generic: nil
        }
    }

    public static let rk3588 = ClockProfile(
        soc: .rk3588,
        knobs: (0...7).map { ClockKnob.cpuidle(cpu: $0) } + [
            .devfreq("fdab0000.npu", kind: .npu, hz: 1_000_000_000),
            .cpufreq("policy0", kHz: 1_800_000),
            .cpufreq("policy4", kHz: 2_352_000),
            .cpufreq("policy6", kHz: 2_352_000),
            .devfreq("fb000000.gpu", kind: .gpu, hz: 1_000_000_000),
            .devfreq("dmc", kind: .ddr, hz: 2_112_000_000),
        ])

    public static let rk3576 = ClockProfile(
        soc: .rk3576,
        knobs: (0...7).map { ClockKnob.cpuidle(cpu: $0) } + [
            .devfreq("27700000.npu", kind: .npu, hz: 1_000_000_000),
            .cpufreq("policy0", kHz: 2_208_000),
            .cpufreq("policy4", kHz: 2_304_000),
            .devfreq("27800000.gpu", kind: .gpu, hz: 950_000_000),
            .devfreq("dmc", kind: .ddr, hz: 2_112_000_000),
        ])

    /// The RK3562's NPU has no devfreq node: its script writes debugfs directly (debugfs must be mounted).
    /// Its CPU is one cluster, set through `cpu0/cpufreq` (a link to policy0) as the script does.
    public static let rk3562 = ClockProfile(
        soc: .rk3562,
        knobs: (0...3).map { ClockKnob.cpuidle(cpu: $0) } + [
            ClockKnob(
                name: "npu", kind: .npu, governorPath: nil, availableGovernorsPath: nil, governor: nil,
                valuePath: "sys/kernel/debug/rknpu/freq", availableValuesPath: nil, currentPath: nil,
                target: 1_000_000_000),
            .cpufreq("policy0", directory: "sys/devices/system/cpu/cpu0/cpufreq", kHz: 2_016_000),
            .devfreq("dmc", kind: .ddr, hz: 2_112_000_000),
        ])
}
