import Foundation
import Testing

@testable import Manifest

/// `device.memory` and `lifecycle.pinned`: sizes, resolution, and applied state written before they existed.
struct MemoryManifestTests {
    func load(_ yaml: String) -> ManifestLoader.Result {
        ManifestLoader(environment: Fixtures.environment).load(text: yaml, file: "memory.yaml", baseDirectory: "/manifests")
    }

    func manifest(device: String, lifecycle: String = "") -> String {
        """
        apiVersion: rockchipllama/v1
        kind: Device
        metadata: {name: board}
        device: \(device)
        models:
          - source: {path: /models/smol.gguf}
            \(lifecycle)
        """
    }

    @Test func sizesParseInBinaryAndDecimalUnitsInAnyCase() {
        let cases: [(String, Int64)] = [
            ("0", 0), ("1048576", 1 << 20), ("512MiB", 512 << 20), ("6GiB", 6 << 30), ("6gib", 6 << 30), ("4G", 4 << 30),
            ("6g", 6 << 30), ("1.5GiB", 3 << 29), ("2TiB", 2 << 40), ("100K", 100 << 10), ("1m", 1 << 20), ("1KiB", 1024),
            ("5GB", 5_000_000_000), ("250mb", 250_000_000), ("1kb", 1000), ("1.5TB", 1_500_000_000_000), ("300B", 300),
            ("300b", 300), (" 2GiB ", 2 << 30),
        ]
        for (text, bytes) in cases {
            #expect((try? ByteSize.parse(text).get()) == ByteSize(bytes: bytes), "\(text)")
        }
    }

    @Test func malformedSizesAreRefusedWithAnExample() {
        for text in ["", "GiB", "6 GiB", "-1G", "6gigs", "1.5", "1.5B", ".5G", "1.G", "1e9", "6GiBs", "99999999999T"] {
            guard case .failure(let error) = ByteSize.parse(text) else {
                Issue.record("'\(text)' should not parse")
                continue
            }
            #expect(error.message == "expected a size like 512MiB, 6GiB or 4G, found '\(text)'")
        }
    }

    @Test func sizesAreWrittenBackInTheLargestWholeUnit() {
        #expect(ByteSize(bytes: 6 << 30).text == "6GiB")
        #expect(ByteSize(bytes: 512 << 20).text == "512MiB")
        #expect(ByteSize(bytes: 3 << 29).text == "1536MiB")
        #expect(ByteSize(bytes: 5_000_000_000).text == "5GB")
        #expect(ByteSize(bytes: 1234).text == "1234")
        #expect(ByteSize(bytes: 0).text == "0")
        for bytes: Int64 in [0, 1, 1000, 1024, 3 << 29, 98_362_432, 5_000_000_000] {
            #expect((try? ByteSize.parse(ByteSize(bytes: bytes).text).get())?.bytes == bytes)
        }
    }

    @Test func sizesReadForPeople() {
        #expect(ByteSize(bytes: 900).readable == "900 B")
        #expect(ByteSize(bytes: 174 << 20).readable == "174 MiB")
        #expect(ByteSize(bytes: 182_452_224).readable == "174 MiB")
        #expect(ByteSize(bytes: 3 << 29).readable == "1.5 GiB")
        #expect(ByteSize(bytes: 6 << 30).readable == "6 GiB")
        #expect(ByteSize(bytes: 24_683_664 * 1024).readable == "24 GiB")
    }

    @Test func fullManifestResolvesTheBudgetAndPinnedModels() throws {
        let result = try Fixtures.load(Fixtures.directory.appendingPathComponent("good/full.yaml"))
        let resolved = try #require(result.resolved)
        #expect(result.manifest?.device?.memory?.budget == ByteSize(bytes: 6 << 30))
        #expect(resolved.memory == ResolvedMemory(budget: 6 << 30, reserve: nil))
        #expect(resolved.models.map(\.lifecycle.pinned) == [false, true, false, false])
    }

    @Test func aReserveResolvesAndLeavingMemoryOutDerivesTheBudget() throws {
        let reserved = try #require(
            load(manifest(device: "{memory: {reserve: 1.5G}}", lifecycle: "lifecycle: {pinned: yes}")).resolved)
        #expect(reserved.memory == ResolvedMemory(budget: nil, reserve: 3 << 29))
        #expect(reserved.models[0].lifecycle.pinned)
        #expect(reserved.models[0].lifecycle.preload && reserved.models[0].lifecycle.idleTimeout == nil)
        let unset = try #require(load(manifest(device: "{soc: rk3588}")).resolved)
        #expect(unset.memory == ResolvedMemory())
        #expect(unset.memory.budget == nil && unset.memory.reserve == nil)
        #expect(!unset.models[0].lifecycle.pinned)
        // A budget of 0 bytes is an error, a reserve of 0 is not (the whole available memory is the budget).
        #expect(try #require(load(manifest(device: "{memory: {reserve: 0}}")).resolved).memory.reserve == 0)
    }

    @Test func appliedStateWrittenBeforeMemoryAndPinnedStillDecodes() throws {
        let current = try #require(
            load(manifest(device: "{memory: {budget: 2GiB}}", lifecycle: "lifecycle: {pinned: true}")).resolved)
        let data = try JSONEncoder().encode(current)
        // What an earlier runner wrote: the same JSON without `memory` and without each lifecycle's `pinned`.
        var json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        json["memory"] = nil
        var models = try #require(json["models"] as? [[String: Any]])
        for index in models.indices {
            var lifecycle = try #require(models[index]["lifecycle"] as? [String: Any])
            lifecycle["pinned"] = nil
            models[index]["lifecycle"] = lifecycle
        }
        json["models"] = models
        let old = try JSONDecoder().decode(ResolvedManifest.self, from: try JSONSerialization.data(withJSONObject: json))
        #expect(old.memory == ResolvedMemory())
        #expect(old.models[0].lifecycle.pinned == false)
        var expected = current
        expected.memory = ResolvedMemory()
        expected.models[0].lifecycle.pinned = false
        #expect(old == expected)
        // And the current form round-trips.
        #expect(try JSONDecoder().decode(ResolvedManifest.self, from: data) == current)
    }
}
