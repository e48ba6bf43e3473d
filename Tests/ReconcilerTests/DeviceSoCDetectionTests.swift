import Foundation
import Manifest
import Reconciler
import Testing

/// The SoC from the device tree's compatible strings.
struct DeviceSoCDetectionTests {
    @Test func anRK3588TreeIsDetected() throws {
        let tree = try FakeSysfsTree.rk3588()
        defer { tree.cleanUp() }
        let resolution = SoCDetection.resolve(.auto, in: SysfsFiles(root: tree.root))
        #expect(resolution.soc == .rk3588)
        #expect(resolution.detected == .rk3588)
        #expect(resolution.compatible == ["radxa,rock-5b", "rockchip,rk3588"])
        #expect(resolution.warning == nil)
    }

    @Test func aTreeWithoutCompatibleIsGeneric() throws {
        let tree = try FakeSysfsTree.rk3588(compatible: nil)
        defer { tree.cleanUp() }
        let resolution = SoCDetection.resolve(.auto, in: SysfsFiles(root: tree.root))
        #expect(resolution.soc == .generic)
        #expect(resolution.compatible.isEmpty)
    }

    @Test func theFirmwarePathIsReadWhenProcHasNoDeviceTree() throws {
        let tree = try FakeSysfsTree.rk3588(compatible: nil)
        defer { tree.cleanUp() }
        try tree.write("rockchip,rk3576-evb1-v10\0rockchip,rk3576\0", to: "sys/firmware/devicetree/base/compatible")
        #expect(SoCDetection.resolve(.auto, in: SysfsFiles(root: tree.root)).soc == .rk3576)
    }

    @Test func variantsAndOtherVendorsMapToTheirSoC() {
        #expect(SoCDetection.soc(fromCompatible: ["xunlong,orangepi-5", "rockchip,rk3588s"]) == .rk3588)
        #expect(SoCDetection.soc(fromCompatible: ["rockchip,rk3562-evb2-ddr4-v10", "rockchip,rk3562"]) == .rk3562)
        #expect(SoCDetection.soc(fromCompatible: ["raspberrypi,4-model-b", "brcm,bcm2711"]) == .generic)
        #expect(SoCDetection.soc(fromCompatible: ["rockchip,rk3399"]) == .generic)
    }

    @Test func anExplicitSoCIsTrustedButAMismatchIsReported() throws {
        let tree = try FakeSysfsTree.rk3588()
        defer { tree.cleanUp() }
        let resolution = SoCDetection.resolve(.rk3576, in: SysfsFiles(root: tree.root))
        #expect(resolution.soc == .rk3576)
        #expect(resolution.detected == .rk3588)
        #expect(
            resolution.warning
                == "manifest says soc rk3576 but the device tree says radxa,rock-5b, rockchip,rk3588; using rk3576")
        #expect(SoCDetection.resolve(.rk3588, in: SysfsFiles(root: tree.root)).warning == nil)
    }
}
