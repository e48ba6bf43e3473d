import Foundation
import Reconciler

/// An RK3588's sysfs in a temporary directory, as a board shows it after boot: on-demand governors, low
/// clocks, idle states enabled. Shaped like the real tree, including that a devfreq device has no
/// `userspace/` directory until its governor is userspace.
struct FakeSysfsTree {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("sysfs-\(UUID().uuidString)")

    static let npu = "sys/class/devfreq/fdab0000.npu"
    static let gpu = "sys/class/devfreq/fb000000.gpu"
    static let dmc = "sys/class/devfreq/dmc"
    static func policy(_ number: Int) -> String { "sys/devices/system/cpu/cpufreq/policy\(number)" }
    static func idle(_ cpu: Int) -> String { "sys/devices/system/cpu/cpu\(cpu)/cpuidle/state1/disable" }

    static let littleFrequencies = "408000 600000 816000 1008000 1200000 1416000 1608000 1800000"
    static let bigFrequencies = "408000 600000 816000 1008000 1200000 1416000 1608000 1800000 2016000 2208000 2352000"

    /// `compatible: nil` leaves the device tree out, as on a PC or in a container that masks /sys/firmware.
    static func rk3588(compatible: String? = "radxa,rock-5b\0rockchip,rk3588\0") throws -> FakeSysfsTree {
        let tree = FakeSysfsTree()
        if let compatible { try tree.write(compatible, to: "proc/device-tree/compatible") }
        for (number, frequencies, current) in [
            (0, littleFrequencies, "816000"), (4, bigFrequencies, "1200000"), (6, bigFrequencies, "1200000"),
        ] {
            let directory = policy(number)
            try tree.write("schedutil", to: "\(directory)/scaling_governor")
            try tree.write(
                "conservative ondemand userspace powersave performance schedutil", to: "\(directory)/scaling_available_governors")
            try tree.write("<unsupported>", to: "\(directory)/scaling_setspeed")
            try tree.write(current, to: "\(directory)/scaling_cur_freq")
            try tree.write(frequencies, to: "\(directory)/scaling_available_frequencies")
        }
        for (directory, governor, current, frequencies) in [
            (
                npu, "rknpu_ondemand", "300000000",
                "300000000 400000000 500000000 600000000 700000000 800000000 900000000 1000000000"
            ),
            (
                gpu, "simple_ondemand", "300000000",
                "300000000 400000000 500000000 600000000 700000000 800000000 900000000 1000000000"
            ),
            (dmc, "dmc_ondemand", "528000000", "528000000 1068000000 1560000000 2112000000"),
        ] {
            try tree.write(governor, to: "\(directory)/governor")
            try tree.write("\(governor) userspace powersave performance simple_ondemand", to: "\(directory)/available_governors")
            try tree.write(current, to: "\(directory)/cur_freq")
            try tree.write(frequencies, to: "\(directory)/available_frequencies")
        }
        for cpu in 0...7 { try tree.write("0", to: idle(cpu)) }
        return tree
    }

    func write(_ text: String, to relative: String) throws {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: false, encoding: .utf8)
    }

    func read(_ relative: String) -> String? {
        (try? String(contentsOf: root.appendingPathComponent(relative), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func remove(_ relative: String) throws { try FileManager.default.removeItem(at: root.appendingPathComponent(relative)) }

    var record: URL { root.appendingPathComponent("state/clocks.json") }

    func pinning(_ kernel: FakeKernel? = nil) -> ClockPinning {
        ClockPinning(sysfs: kernel ?? FakeKernel(root: root), record: record)
    }

    func cleanUp() { try? FileManager.default.removeItem(at: root) }
}

/// Plays the kernel over the plain files of a `FakeSysfsTree`: plain files do not react to writes, sysfs
/// attributes do. This is the test double, rather than a copy after `pin`, so that `pin`'s own read-back
/// runs against kernel-like behaviour:
/// - a value written to `scaling_setspeed` or `userspace/set_freq` shows in `scaling_cur_freq`/`cur_freq`,
///   unless the path is in `refused` (a kernel that keeps the old clock);
/// - `scaling_setspeed` rejects writes unless the governor is userspace (EINVAL), so the order matters;
/// - switching a devfreq governor to userspace creates `userspace/set_freq`, leaving it removes it;
/// - a path in `denied` fails with EACCES, which the tests, running as root, cannot get from chmod.
struct FakeKernel: SysfsAccess {
    let files: SysfsFiles
    var refused: Set<String> = []
    var denied: Set<String> = []

    init(root: URL, refused: Set<String> = [], denied: Set<String> = []) {
        files = SysfsFiles(root: root)
        self.refused = refused
        self.denied = denied
    }

    var root: URL { files.root }
    func exists(_ path: String) -> Bool { files.exists(path) }
    func read(_ path: String) throws(SysfsError) -> String { try files.read(path) }

    func write(_ value: String, to path: String) throws(SysfsError) {
        if denied.contains(path) { throw SysfsError(.write, absolute(path), code: EACCES) }
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        if name == "scaling_setspeed", (try? files.read("\(directory)/scaling_governor")) != "userspace" {
            throw SysfsError(.write, absolute(path), code: EINVAL)
        }
        try files.write(value, to: path)
        switch name {
        case "governor":
            let userspace = root.appendingPathComponent(directory).appendingPathComponent("userspace")
            if value == "userspace" {
                try? FileManager.default.createDirectory(at: userspace, withIntermediateDirectories: true)
                _ = FileManager.default.createFile(
                    atPath: userspace.appendingPathComponent("set_freq").path, contents: Data("unset\n".utf8))
            } else {
                try? FileManager.default.removeItem(at: userspace)
            }
        case "scaling_setspeed" where !refused.contains(path):
            try files.write(value, to: "\(directory)/scaling_cur_freq")
        case "set_freq" where !refused.contains(path):
            try files.write(value, to: "\((directory as NSString).deletingLastPathComponent)/cur_freq")
        default: break
        }
    }
}
