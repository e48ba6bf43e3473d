import Foundation
import Manifest
import Testing

@testable import Reconciler

/// The real SmolLM2 file (`RUNNER_TEST_MODEL`, else where `make setup` puts it).
private let smolLM2 =
    ProcessInfo.processInfo.environment["RUNNER_TEST_MODEL"]
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent(".deps/models/SmolLM2-135M-Instruct.Q4_1.gguf").path

private let mebibyte: Int64 = 1 << 20

struct MemInfoTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meminfo-\(UUID().uuidString)")

    func write(_ text: String) throws -> URL {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent("meminfo")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func readsTotalAndAvailableInBytes() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = try write(
            """
            MemTotal:        8040156 kB
            MemFree:          901234 kB
            MemAvailable:    6123456 kB
            Buffers:           25840 kB
            Cached:          1454016 kB
            HugePages_Total:       0

            """)
        #expect(try MemInfo.read(from: url) == MemInfo(total: 8_040_156 * 1024, available: 6_123_456 * 1024))
    }

    @Test func oldKernelsWithoutMemAvailableCountFreeBuffersAndCache() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = try write("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\n")
        #expect(try MemInfo.read(from: url) == MemInfo(total: 1000 * 1024, available: 420 * 1024))
    }

    @Test func aFileWithoutTotalOrNoFileIsAnError() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(throws: MemInfo.ReadError.self) { try MemInfo.read(from: try write("MemFree: 100 kB\n")) }
        #expect(throws: MemInfo.ReadError.self) { try MemInfo.read(from: directory.appendingPathComponent("none")) }
    }

    @Test func thisMachineAndThisProcessCanBeRead() throws {
        let machine = try MemInfo.read()
        #expect(machine.total > 0 && machine.available > 0 && machine.available <= machine.total)
        let resident = try #require(MemInfo.residentBytes(of: getpid()))
        #expect(resident > mebibyte && resident < machine.total)
        #expect(MemInfo.residentBytes(of: 4_194_305) == nil, "above pid_max: no such process")
    }
}

struct MemoryBudgetTests {
    let machine = MemInfo(total: 8 << 30, available: 6 << 30)

    @Test func anExplicitBudgetIsTakenAsWritten() {
        #expect(MemoryBudget.bytes(ResolvedMemory(budget: 3 << 30), machine: machine, held: 1 << 30) == 3 << 30)
        #expect(MemoryBudget.bytes(ResolvedMemory(budget: 100 << 30), machine: machine) == 100 << 30)
    }

    @Test func aDerivedBudgetIsAvailablePlusHeldMinusTheReserve() {
        // 10 % of 8 GiB.
        let reserve = MemoryBudget.defaultReserve(total: 8 << 30)
        #expect(reserve == (8 << 30) / 10)
        #expect(MemoryBudget.bytes(ResolvedMemory(), machine: machine) == (6 << 30) - reserve)
        #expect(MemoryBudget.bytes(ResolvedMemory(), machine: machine, held: 1 << 30) == (7 << 30) - reserve)
        #expect(MemoryBudget.bytes(ResolvedMemory(reserve: 512 * mebibyte), machine: machine) == (6 << 30) - 512 * mebibyte)
        #expect(MemoryBudget.bytes(ResolvedMemory(reserve: 0), machine: machine) == 6 << 30)
    }

    @Test func smallMachinesKeepAtLeast256MiBAndTheBudgetIsNeverNegative() {
        #expect(MemoryBudget.defaultReserve(total: 1 << 30) == 256 * mebibyte)
        let small = MemInfo(total: 1 << 30, available: 200 * mebibyte)
        #expect(MemoryBudget.bytes(ResolvedMemory(), machine: small) == 0)
        #expect(MemoryBudget.bytes(ResolvedMemory(), machine: small, held: 100 * mebibyte) == 44 * mebibyte)
    }
}

struct ModelFootprintTests {
    func model(_ options: String, engine: String = "") throws -> ResolvedModel {
        try resolve(
            """
            apiVersion: rockchipllama/v1
            kind: Device
            metadata: {name: board}
            models:
              - {name: smol, source: {path: \(smolLM2)}\(engine)\(options)}
            """
        ).models[0]
    }

    func fileSize() throws -> Int64 {
        try #require((try FileManager.default.attributesOfItem(atPath: smolLM2)[.size] as? NSNumber)?.int64Value)
    }

    /// A worker serving SmolLM2 on llama.cpp was measured at about 174 MiB resident with context 512 × 1 slot
    /// and 532 MiB with 4096 × 4 slots (VmRSS 175,308 kB and 533,932 kB on this machine).
    @Test func llamaCppEstimatesAreWithin15PercentOfMeasuredWorkers() throws {
        for (options, measured) in [(", context: 512, llamacpp: {parallel: 1}", 174 * mebibyte), ("", 532 * mebibyte)] {
            let estimate = try #require(ModelFootprint.estimate(try model(options), file: smolLM2))
            #expect(abs(Double(estimate - measured)) / Double(measured) < 0.15, "\(options): \(estimate) vs \(measured)")
        }
        // The formula: file + 23040 bytes per token × context × slots + the process.
        let estimate = ModelFootprint.estimate(try model(", context: 1024, llamacpp: {parallel: 2}"), file: smolLM2)
        #expect(estimate == (try fileSize()) + 23040 * 1024 * 2 + ModelFootprint.processOverhead)
    }

    @Test func rkllmIsTheFileAndTheProcess() throws {
        let rkllm = try model("", engine: ", engine: rkllm")
        #expect(ModelFootprint.estimate(rkllm, file: smolLM2) == (try fileSize()) + ModelFootprint.processOverhead)
    }

    @Test func noFileNoEstimateAndAnUnreadableHeaderCountsTheFileOnly() throws {
        let smol = try model("")
        #expect(ModelFootprint.estimate(smol, file: nil) == nil)
        #expect(ModelFootprint.estimate(smol, file: "/nonexistent/model.gguf") == nil)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("footprint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let fake = directory.appendingPathComponent("fake.gguf")
        try Data(count: 4096).write(to: fake)
        #expect(ModelFootprint.estimate(smol, file: fake.path) == 4096 + ModelFootprint.processOverhead)
        #expect(ModelFootprint.estimate(smol, file: directory.path) == nil, "a directory is not a model file")
        // A Hugging Face snapshot is a symlink to its blob: the blob's size counts.
        let link = directory.appendingPathComponent("link.gguf")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: URL(fileURLWithPath: smolLM2))
        #expect(ModelFootprint.estimate(smol, file: link.path) == ModelFootprint.estimate(smol, file: smolLM2))
    }

    @Test func upstreamModelsHaveNoEstimate() throws {
        let upstream = try resolve(
            """
            apiVersion: rockchipllama/v1
            kind: Device
            metadata: {name: board}
            models:
              - {name: remote, upstream: {url: "http://10.0.0.7:8080/v1"}}
            """
        ).models[0]
        #expect(ModelFootprint.estimate(upstream, file: smolLM2) == nil)
    }

    @Test func theFileIsTheLocalPathOrTheCachedHubFile() throws {
        let hub = HubCacheLayout(hub: FileManager.default.temporaryDirectory.appendingPathComponent("hub-\(UUID().uuidString)"))
        let smol = try model("")
        #expect(smol.source == .local(path: try #require(ModelFootprint.file(of: smol, hub: hub))))
        let qwen = try resolve(baseManifest).models[1]
        #expect(ModelFootprint.file(of: qwen, hub: hub) == nil)
    }
}

struct MemoryPlanTests {
    let manifest = """
        apiVersion: rockchipllama/v1
        kind: Device
        metadata: {name: board}
        device: {memory: {budget: 1GiB}}
        models:
          - {name: a, source: {path: /m/a.gguf}, lifecycle: {preload: false}}
          - {name: b, source: {path: /m/b.gguf}}
          - {name: c, source: {path: /m/c.gguf}, lifecycle: {pinned: true}}
          - {name: remote, upstream: {url: "http://10.0.0.7:8080/v1"}}
          - {name: qwen, source: {huggingface: {repo: org/qwen, file: qwen.rkllm}}}
        """

    func plan(_ yaml: String, _ memory: ObservedMemory) throws -> MemoryPlan {
        Planner.memoryPlan(desired: try resolve(yaml), memory: memory)
    }

    @Test func modelsThatFitTogetherAreSaidToFit() throws {
        let memory = ObservedMemory(
            machine: nil, footprints: ["a": 300 * mebibyte, "b": 200 * mebibyte, "c": 100 * mebibyte, "qwen": 400 * mebibyte])
        let plan = try plan(manifest, memory)
        #expect(plan.budget == 1 << 30 && plan.budgetSource == .manifest)
        #expect(plan.available == nil && plan.held == nil && plan.reserve == nil)
        #expect(plan.models.map(\.name) == ["a", "b", "c", "qwen"], "the upstream model takes no memory here")
        #expect(plan.models.map(\.pinned) == [false, false, true, false])
        #expect(plan.total == 1000 * mebibyte)
        #expect(plan.fitsAtOnce == true && plan.loadedAtOnce.isEmpty && plan.tooLarge.isEmpty)
    }

    @Test func whenTheyDoNotFitPinnedThenPreloadedModelsComeFirst() throws {
        let memory = ObservedMemory(
            machine: nil, footprints: ["a": 300 * mebibyte, "b": 500 * mebibyte, "c": 400 * mebibyte, "qwen": 2 << 30])
        let plan = try plan(manifest, memory)
        #expect(plan.fitsAtOnce == false)
        // c (pinned) and b (preloaded) fill 900 MiB; a (300 MiB, loaded on demand) does not fit beside them.
        #expect(plan.loadedAtOnce == ["c", "b"])
        #expect(plan.tooLarge == ["qwen"])
    }

    @Test func unknownEstimatesLeaveTheAnswerOpenUnlessTheKnownOnesAlreadyOverflow() throws {
        var plan = try plan(manifest, ObservedMemory(machine: nil, footprints: ["a": 300 * mebibyte]))
        #expect(plan.fitsAtOnce == nil && plan.total == 300 * mebibyte)
        #expect(
            plan.models.map(\.note) == [
                nil, "unknown until the file exists", "unknown until the file exists", "unknown until downloaded",
            ])
        plan = try self.plan(manifest, ObservedMemory(machine: nil, footprints: ["a": 600 * mebibyte, "b": 600 * mebibyte]))
        #expect(plan.fitsAtOnce == false && plan.loadedAtOnce == ["b"])
    }

    @Test func aDerivedBudgetShowsWhereItComesFrom() throws {
        let derived = manifest.replacingOccurrences(of: "budget: 1GiB", with: "reserve: 512MiB")
        let machine = MemInfo(total: 4 << 30, available: 2 << 30)
        let plan = try plan(derived, ObservedMemory(machine: machine, held: 256 * mebibyte))
        #expect(plan.budgetSource == .machine)
        #expect(plan.budget == (2 << 30) + 256 * mebibyte - 512 * mebibyte)
        #expect(plan.available == 2 << 30 && plan.held == 256 * mebibyte && plan.reserve == 512 * mebibyte)
        let unread = try self.plan(derived, ObservedMemory(machine: nil))
        #expect(unread.budget == nil && unread.fitsAtOnce == nil && unread.tooLarge.isEmpty)
    }

    @Test func theObserverReadsTheMachineAndTheFilesWhenAsked() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("memory-observer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let memInfo = root.appendingPathComponent("meminfo")
        try "MemTotal: 4194304 kB\nMemAvailable: 2097152 kB\n".write(to: memInfo, atomically: true, encoding: .utf8)
        let desired = try resolve(
            """
            apiVersion: rockchipllama/v1
            kind: Device
            metadata: {name: board}
            models:
              - {name: smol, source: {path: \(smolLM2)}}
              - {name: qwen, source: {huggingface: {repo: org/qwen, file: qwen.rkllm}}}
            """)
        let state = StateDirectory(root: root.appendingPathComponent("state"))
        let hub = HubCacheLayout(hub: root.appendingPathComponent("hub"))
        #expect(try StateObserver(state: state, hub: hub).observe(desired: desired).memory == nil, "not asked: not read")
        let observed = try StateObserver(state: state, hub: hub, memInfo: memInfo).observe(desired: desired)
        let memory = try #require(observed.memory)
        #expect(memory.machine == MemInfo(total: 4 << 30, available: 2 << 30) && memory.held == 0)
        #expect(memory.footprints.keys.sorted() == ["smol"])
        #expect(memory.footprints["smol"] == ModelFootprint.estimate(desired.models[0], file: smolLM2))
        let plan = Planner.plan(desired: desired, observed: observed)
        #expect(plan.memory?.budget == (2 << 30) - MemoryBudget.defaultReserve(total: 4 << 30))
    }
}
