import Foundation
import Logging
import Manifest
import Testing
import Worker

@testable import Reconciler

/// The live deployment `runner serve` changes in place, with stand-in workers and the fake hub: only what
/// changed restarts, and a Hugging Face file damaged behind its back is fetched again.
struct LiveDeploymentTests {
    let sandbox = HubSandbox()
    let model = HubSandbox.model

    func manifest(context: Int = 256, aliases: [String] = [], second: Bool = false) throws -> ResolvedManifest {
        let other = """

              - name: other
                source: {path: /models/other.gguf}
            """
        return try resolve(
            """
            apiVersion: rockchipllama/v1
            kind: Device
            metadata: {name: board}
            models:
              - name: tiny
                aliases: [\(aliases.joined(separator: ", "))]
                source: {huggingface: {repo: \(model.repo), file: \(model.file)}}
                context: \(context)\(second ? other : "")
            endpoints: []
            """)
    }

    func deployment(_ base: String, served: Recorded<ResolvedManifest>) throws -> LiveDeployment {
        let state = StateDirectory(root: sandbox.root.appendingPathComponent("state"))
        let logger = Logger(label: "live-test")
        let script = try StandInWorker.install(StandInWorker.healthy, named: "worker.py", in: sandbox.root)
        let executor = ApplyExecutor(
            state: state, supervisor: WorkerSupervisor(state: state, logger: logger), logger: logger,
            downloader: sandbox.downloader(base)
        ) { model in
            WorkerSupervisor.Launch(
                model: model.name, executable: StandInWorker.python, arguments: [script, state.workerSocket(model.name).path],
                restart: .always)
        }
        return LiveDeployment(executor: executor, clocks: nil) { served.append($0) }
    }

    func pid(_ deployment: LiveDeployment, _ model: String) async -> Int32? {
        let state = await deployment.supervisor.state(of: model)
        return state.running ? state.pid : nil
    }

    @Test func onlyWhatChangedRestartsAndADamagedDownloadIsFetchedAgain() async throws {
        defer { sandbox.remove() }
        let hub = FakeHub(files: [model])
        let served = Recorded<ResolvedManifest>()
        try await hub.serve { base in
            let deployment = try deployment(base, served: served)
            let first = try await deployment.apply(try manifest())
            #expect(first.changes.addedModels == ["tiny"] && first.failures.isEmpty)
            let tiny = try #require(await pid(deployment, "tiny"))
            let definition = try WorkerDefinition.read(from: deployment.state.workerDefinition("tiny"))
            #expect(definition.model.context == 256)

            // An alias: no restart, but the gateway is told.
            let aliased = try await deployment.apply(try manifest(aliases: ["small"]))
            #expect(!aliased.changes.changesWorkers)
            #expect(await pid(deployment, "tiny") == tiny)
            #expect(served.all.last?.models.first?.aliases == ["small"])

            // The context: a restart with the new definition.
            let bigger = try await deployment.apply(try manifest(context: 512, aliases: ["small"]))
            #expect(bigger.changes.restartedModels.map(\.name) == ["tiny"])
            let restarted = try #require(await pid(deployment, "tiny"))
            #expect(restarted != tiny)
            #expect(try WorkerDefinition.read(from: deployment.state.workerDefinition("tiny")).model.context == 512)

            // The blob is damaged behind the runner's back: fetched again, and the worker restarted on it.
            let snapshot = try #require(sandbox.cache.cachedFile(repo: model.repo, file: model.file, revision: "main"))
            let blob = snapshot.resolvingSymlinksInPath()
            try Data(model.content.prefix(1000)).write(to: blob)
            await deployment.repairDrift()
            #expect(try Data(contentsOf: snapshot) == Data(model.content))
            let refetched = try #require(await pid(deployment, "tiny"))
            #expect(refetched != restarted)
            await deployment.repairDrift()
            #expect(await pid(deployment, "tiny") == refetched, "nothing more to repair")

            await deployment.supervisor.stopAll()
        }
    }

    @Test func aModelThatCannotStartLeavesTheOthersAndIsReported() async throws {
        defer { sandbox.remove() }
        let hub = FakeHub(files: [model])
        let served = Recorded<ResolvedManifest>()
        try await hub.serve { base in
            let deployment = try deployment(base, served: served)
            _ = try await deployment.apply(try manifest())
            let tiny = try #require(await pid(deployment, "tiny"))
            // `other`'s local file does not exist: refused before anything changes.
            await #expect(throws: ReconcilerError.self) { try await deployment.apply(try manifest(second: true)) }
            #expect(await pid(deployment, "tiny") == tiny)
            #expect(await deployment.running?.models.map(\.name) == ["tiny"])

            // Removing a model stops its worker and tells the gateway first.
            let state = deployment.state
            try FileManager.default.createDirectory(
                at: state.promptCaches.appendingPathComponent("tiny"), withIntermediateDirectories: true)
            let removed = try await deployment.apply(
                try resolve(
                    """
                    apiVersion: rockchipllama/v1
                    kind: Device
                    metadata: {name: board}
                    models:
                      - name: next
                        source: {huggingface: {repo: \(model.repo), file: \(model.file)}}
                    endpoints: []
                    """))
            #expect(removed.changes.removedModels == ["tiny"] && removed.changes.addedModels == ["next"])
            #expect(await pid(deployment, "tiny") == nil)
            #expect(kill(tiny, 0) != 0)
            #expect(!FileManager.default.fileExists(atPath: state.promptCaches.appendingPathComponent("tiny").path))
            #expect(!FileManager.default.fileExists(atPath: state.workerDefinition("tiny").path))
            #expect(served.all.suffix(2).map { $0.models.map(\.name) } == [[], ["next"]])
            await deployment.supervisor.stopAll()
        }
    }
}
