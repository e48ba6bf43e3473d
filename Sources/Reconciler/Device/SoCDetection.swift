public import Manifest

/// Which SoC a device is, from the `compatible` property of its device tree's root node.
public enum SoCDetection {
    /// Both places the kernel shows the flattened device tree; `/proc/device-tree` is a link to the second.
    /// Docker masks `/sys/firmware` in unprivileged containers, so there a device reads as `generic`.
    static let compatiblePaths = ["proc/device-tree/compatible", "sys/firmware/devicetree/base/compatible"]

    /// The compatible strings, most specific first (e.g. `radxa,rock-5b`, `rockchip,rk3588`); empty when
    /// the device has no device tree.
    public static func compatible(in sysfs: any SysfsAccess) -> [String] {
        for path in compatiblePaths {
            // The property is a list of NUL-terminated strings.
            guard let text = try? sysfs.read(path) else { continue }
            let strings = text.split(separator: "\0").map(String.init).filter { !$0.isEmpty }
            if !strings.isEmpty { return strings }
        }
        return []
    }

    /// rk3588, rk3576 or rk3562 when a compatible string names one, else generic. `rockchip,rk3588s` and
    /// board strings like `rockchip,rk3588-evb1-v10` are the RK3588 too.
    public static func soc(fromCompatible strings: [String]) -> SoC {
        for string in strings {
            guard string.hasPrefix("rockchip,") else { continue }
            let model = string.dropFirst("rockchip,".count)
            for soc in [SoC.rk3588, .rk3576, .rk3562] where model.hasPrefix(soc.rawValue) { return soc }
        }
        return .generic
    }

    /// The SoC to tune for: the manifest's when it names one (trusted, with a warning when the device tree
    /// disagrees), the detected one for `auto`.
    public static func resolve(_ requested: SoC, in sysfs: any SysfsAccess) -> SoCResolution {
        let strings = compatible(in: sysfs)
        let detected = soc(fromCompatible: strings)
        guard requested != .auto else {
            return SoCResolution(requested: requested, detected: detected, soc: detected, compatible: strings, warning: nil)
        }
        var warning: String?
        if requested != detected {
            let seen =
                strings.isEmpty
                ? "no device tree compatible under \(sysfs.absolute(compatiblePaths[0]))"
                : "the device tree says \(strings.joined(separator: ", "))"
            warning = "manifest says soc \(requested.rawValue) but \(seen); using \(requested.rawValue)"
        }
        return SoCResolution(requested: requested, detected: detected, soc: requested, compatible: strings, warning: warning)
    }
}

/// The outcome of resolving `device.soc` against the device tree.
public struct SoCResolution: Codable, Sendable, Equatable {
    /// What the manifest asked for (`auto` included).
    public var requested: SoC
    /// What the device tree says: rk3588, rk3576, rk3562 or generic.
    public var detected: SoC
    /// What is tuned for: the manifest's SoC, or the detected one for `auto`. Never `auto`.
    public var soc: SoC
    public var compatible: [String]
    /// Set when an explicit SoC differs from the device tree.
    public var warning: String?
}
