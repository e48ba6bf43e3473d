import Foundation
import Manifest
import Testing
import Worker

@testable import Reconciler

/// The scheduler's room decisions on their own: which models a load may stop, in which order.
struct ResidencyBookTests {
    static let mib: Int64 = 1 << 20

    /// Models `a`…`d` of 100 MiB each (rkllm ones in NPU domains as given), with a budget in MiB.
    func book(budget: Int64, rkllmDomains: [String: Int] = [:], pinned: Set<String> = []) throws -> ResidencyBook {
        var models = ""
        for name in ["a", "b", "c", "d"] {
            let engine = rkllmDomains[name].map { "engine: rkllm, npu: {domain: \($0)}," } ?? "llamacpp: {threads: 2},"
            let ext = rkllmDomains[name] == nil ? "gguf" : "rkllm"
            let lifecycle = pinned.contains(name) ? "lifecycle: {pinned: true}," : ""
            models += "\n  - {name: \(name), \(engine) \(lifecycle) source: {path: /models/\(name).\(ext)}}"
        }
        let manifest = try resolve(
            """
            apiVersion: rockchipllama/v1
            kind: Device
            metadata: {name: board}
            runtimes: {rkllm: {library: /usr/lib/librkllmrt.so}}
            models:\(models)
            endpoints: []
            """)
        var book = ResidencyBook(budget: budget * Self.mib)
        for model in manifest.models { book.entries[model.name] = ResidencyBook.Entry(model: model, estimate: 100 * Self.mib) }
        return book
    }

    /// Marks models resident, used in the order given (the first least recently).
    func use(_ names: [String], in book: inout ResidencyBook) {
        let start = ContinuousClock.now
        for (index, name) in names.enumerated() {
            book.entries[name]?.phase = .resident
            book.entries[name]?.lastUsedAt = start + .seconds(index)
        }
    }

    @Test func aModelThatFitsLoadsWithoutStoppingAnything() throws {
        var book = try book(budget: 250)
        use(["a"], in: &book)
        #expect(book.room(for: "b") == .fits)
    }

    @Test func theLeastRecentlyUsedIdleModelsMakeRoom() throws {
        var book = try book(budget: 250)
        use(["b", "a"], in: &book)
        #expect(book.room(for: "c") == .evicting(["b"]))
        var tight = try self.book(budget: 100)
        use(["c", "a", "b"], in: &tight)
        tight.budget = 300 * Self.mib
        #expect(tight.room(for: "d") == .evicting(["c"]))
        tight.budget = 150 * Self.mib
        #expect(tight.room(for: "d") == .evicting(["c", "a", "b"]), "as many as it takes, oldest first")
    }

    @Test func busyAndPinnedModelsAreNotStopped() throws {
        var book = try book(budget: 250, pinned: ["a"])
        use(["a", "b"], in: &book)
        book.entries["b"]?.holds = 1
        #expect(book.room(for: "c") == .blocked, "a is pinned and b is in use")
        book.entries["b"]?.holds = 0
        #expect(book.room(for: "c") == .evicting(["b"]), "pinned a stays although it was used less recently")
    }

    @Test func aModelAlreadyStoppingIsWaitedFor() throws {
        var book = try book(budget: 250)
        use(["a", "b"], in: &book)
        book.entries["a"]?.phase = .stopping(.evicted)
        #expect(book.room(for: "c") == .afterStops)
    }

    @Test func rkllmModelsInOneNPUDomainAreNeverResidentTogether() throws {
        var book = try book(budget: 1000, rkllmDomains: ["a": 0, "b": 0, "c": 1])
        use(["a"], in: &book)
        #expect(book.room(for: "c") == .fits, "another domain")
        #expect(book.room(for: "b") == .evicting(["a"]), "same domain, although memory is plentiful")
        book.entries["a"]?.holds = 1
        #expect(book.room(for: "b") == .blocked)
    }

    @Test func aRequestOnlyUnloadsAfterItsLastHoldWithKeepAliveZero() throws {
        var book = try book(budget: 250)
        use(["a"], in: &book)
        book.entries["a"]?.keepAlive = .unloadAfterUse
        var decisions = ResidencyBook.Decisions()
        book.entries["a"]?.holds = 1
        book.idle("a", now: .now, into: &decisions)
        #expect(decisions.stops.isEmpty, "still in use")
        book.entries["a"]?.holds = 0
        book.idle("a", now: .now, into: &decisions)
        #expect(decisions.stops.map(\.0) == ["a"])
        #expect(book.entries["a"]?.phase == .stopping(.keepAlive))
    }

    @Test func anIdleTimeoutSetsTheDeadlineAndAPinnedModelHasNone() throws {
        var book = try book(budget: 250, pinned: ["b"])
        use(["a", "b"], in: &book)
        book.entries["a"]?.keepAlive = .duration(.seconds(30))
        book.entries["b"]?.keepAlive = .duration(.seconds(30))
        var decisions = ResidencyBook.Decisions()
        let now = ContinuousClock.now
        book.idle("a", now: now, into: &decisions)
        book.idle("b", now: now, into: &decisions)
        #expect(book.entries["a"]?.expiresAt == now + .seconds(30))
        #expect(book.entries["b"]?.expiresAt == nil)
        #expect(decisions.timers == ["a"])
    }
}
