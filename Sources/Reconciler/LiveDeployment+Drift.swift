internal import Foundation
internal import Logging
internal import Manifest

/// A file as seen through symlinks (a Hugging Face snapshot path is its blob): replaced, rewritten or
/// truncated files get another identity.
struct FileIdentity: Sendable, Equatable {
    var device: UInt64
    var inode: UInt64
    var size: UInt64
    var modified: Double

    init?(path: String) {
        // FileManager rather than stat(): `stat` resolves to another module's declaration in release builds.
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: target) else { return nil }
        device = (attributes[.systemNumber] as? NSNumber)?.uint64Value ?? 0
        inode = (attributes[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0
        size = (attributes[.size] as? NSNumber)?.uint64Value ?? 0
        modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
    }
}

extension LiveDeployment {
    /// Puts back what changed behind the runner's back since the last look: model files deleted or changed
    /// (a Hugging Face file is fetched again, a local one reported; the worker restarts on the new file) and
    /// pinned clocks that drifted.
    public func repairDrift() async {
        guard let running else { return }
        for model in running.models { await checkFile(of: model, runtimes: running.runtimes) }
        correctClockDrift(running)
    }

    private func checkFile(of model: ResolvedModel, runtimes: ResolvedRuntimes) async {
        guard let recorded = files[model.name] else { return }
        let path = ModelFiles.localPath(for: model.source, hub: hub)
        let now = path.flatMap(FileIdentity.init(path:))
        if now == recorded { return }
        switch model.source {
        case .local(let path):
            guard now != nil else {
                // The worker has the file open and keeps serving; restarting it now would only take it down.
                if reportedMissing.insert(model.name).inserted {
                    logger.error(
                        "model file was deleted; the worker keeps serving from the open file and restarts when it is back",
                        metadata: ["model": "\(model.name)", "path": "\(path)"])
                }
                return
            }
            logger.warning("model file changed; restarting its worker", metadata: ["model": "\(model.name)", "path": "\(path)"])
        case .huggingface:
            logger.warning(
                "model file \(now == nil ? "is gone" : "changed") in the Hugging Face cache; fetching it again",
                metadata: ["model": "\(model.name)", "path": "\(path ?? "(no snapshot)")"])
            // A blob never changes in place: one that did is damaged, and must go before it is fetched again.
            if now != nil, let path { removeSnapshot(path) }
            do {
                let board = executor.downloads
                for file in ModelFiles.hubFiles(of: model) {
                    defer { board.remove(model: model.name, file) }
                    try await executor.downloader.ensure(file) { board.record(model: model.name, $0) }
                }
            } catch {
                logger.error("download failed; trying again later", metadata: ["model": "\(model.name)", "error": "\(error)"])
                return
            }
        case .upstream:
            return
        }
        do {
            try await start(model, runtimes: runtimes, replacing: true)
            logger.info("worker restarted on the new file", metadata: ["model": "\(model.name)"])
        } catch {
            // Not running now; the next change to the file tries again.
            files[model.name] = ModelFiles.localPath(for: model.source, hub: hub).flatMap(FileIdentity.init(path:))
            logger.error("worker did not start on the new file", metadata: ["model": "\(model.name)", "error": "\(error)"])
        }
    }

    /// The snapshot link and the blob it points to.
    private func removeSnapshot(_ path: String) {
        let blob = URL(fileURLWithPath: path).resolvingSymlinksInPath()
        for url in [blob, URL(fileURLWithPath: path)] {
            do {
                try FileManager.default.removeItem(at: url)
            } catch {
                logger.warning("cannot remove a damaged cache file", metadata: ["path": "\(url.path)", "error": "\(error)"])
            }
        }
    }

    private func correctClockDrift(_ running: ResolvedManifest) {
        guard let clocks, running.clocks == .pinned else { return }
        let drifts: [ClockDrift]
        do {
            drifts = try clocks.observeDrift()
        } catch {
            logger.error("clocks: cannot read the pinning record: \(error)")
            return
        }
        guard !drifts.isEmpty else { return }
        for drift in drifts { logger.warning("clock drifted: \(drift)") }
        do {
            try clocks.pin(soc: running.soc).log(to: logger)
        } catch {
            logger.error("clocks: \(error)")
        }
    }
}
