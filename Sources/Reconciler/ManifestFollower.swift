internal import Foundation
public import Logging
public import Manifest

/// Follows a manifest source for `runner serve`: validates each new version, applies a valid one that
/// selects this device, and otherwise keeps the last good version running. Every outcome is logged and
/// recorded in `applied-source.json`.
public actor ManifestFollower {
    public enum Verdict: Sendable {
        case applied(LiveDeployment.Outcome)
        /// The version is the one already handled.
        case unchanged
        case rejected(AppliedSource.Rejection)
        /// The source could not be read (a failed fetch); nothing changed.
        case unreadable(String)
    }

    let source: any ManifestSource
    let deployment: LiveDeployment
    /// Why a manifest does not select this device, or nil when it does.
    let selection: @Sendable (ResolvedManifest) -> String?
    let state: StateDirectory
    let logger: Logger
    var record: AppliedSource
    /// The last version handled, applied or not (by `ManifestRevision.key`).
    var lastSeen: String?
    /// The version running.
    public private(set) var lastGood: ManifestRevision?
    var nextPoll = ContinuousClock.now
    /// A version that failed to apply, and when to try it again.
    var failed: (key: String, retryAt: ContinuousClock.Instant)?
    /// A version that failed to apply (e.g. a download) is tried again after this.
    let retryAfter: Duration

    public init(
        source: any ManifestSource, deployment: LiveDeployment, state: StateDirectory, logger: Logger,
        retryAfter: Duration = .seconds(60), selection: @escaping @Sendable (ResolvedManifest) -> String?
    ) {
        self.source = source
        self.deployment = deployment
        self.state = state
        self.logger = logger
        self.retryAfter = retryAfter
        self.selection = selection
        record = source.record
    }

    /// Looks at the source when its interval has passed (or now, with `force`) and handles a new version.
    public func poll(force: Bool = false) async -> Verdict {
        guard force || ContinuousClock.now >= nextPoll else { return .unchanged }
        nextPoll = ContinuousClock.now + source.pollInterval
        let revision: ManifestRevision
        do {
            revision = try await source.current()
        } catch {
            logger.error("cannot read the manifest source: \(error)")
            return .unreadable("\(error)")
        }
        guard revision.key != lastSeen else { return .unchanged }
        if let failed, failed.key == revision.key, ContinuousClock.now < failed.retryAt { return .unchanged }
        lastSeen = revision.key
        return await handle(revision)
    }

    /// Runs `manifest` while the source cannot be read: the last applied one (after a restart; `recorded`
    /// says which version it is), or a bootstrap file. The source's first good version replaces it.
    public func resume(_ manifest: ResolvedManifest, recorded: AppliedSource?, described: String) async throws {
        if let recorded, let sha = recorded.sha256 {
            record = recorded
            lastGood = ManifestRevision(file: "", sha256: sha, commit: recorded.commit)
            // Files the manifest refers to in a checkout come from its commit again.
            if let lastGood { try? await source.reinstate(lastGood) }
        }
        _ = try await deployment.apply(manifest)
        // A version already rejected stays handled; otherwise the source's current version is still to come.
        lastSeen = lastSeen ?? lastGood?.key
        logger.notice("serving \(described) until the manifest source can be read", metadata: origin(lastGood))
    }

    func handle(_ revision: ManifestRevision) async -> Verdict {
        let result = load(revision)
        for diagnostic in result.diagnostics where diagnostic.severity == .warning {
            logger.warning("\(diagnostic)", metadata: origin(revision))
        }
        guard let resolved = result.resolved else {
            let errors = result.diagnostics.filter { $0.severity == .error }
            for diagnostic in errors { logger.error("\(diagnostic)", metadata: origin(revision)) }
            return await reject(
                revision, .invalid, result.diagnostics.map(\.description),
                "it is invalid (\(errors.count) error\(errors.count == 1 ? "" : "s"))")
        }
        if let reason = selection(resolved) {
            return await reject(revision, .notSelected, [reason], "\(reason); nothing was stopped")
        }
        do {
            let outcome = try await deployment.apply(resolved)
            lastGood = revision
            record.commit = revision.commit
            record.sha256 = revision.sha256
            record.appliedAt = Date()
            record.rejected = nil
            failed = nil
            save()
            var metadata = origin(revision)
            metadata["changes"] = "\(outcome.changes)"
            logger.notice("applied manifest '\(resolved.name)'", metadata: metadata)
            return .applied(outcome)
        } catch {
            // Tried again later: a download may work next time.
            lastSeen = nil
            failed = (revision.key, ContinuousClock.now + retryAfter)
            return await reject(revision, .notApplied, ["\(error)"], "applying it failed: \(error)")
        }
    }

    /// Diagnostics name the file as people know it: its path in the repository for git.
    func load(_ revision: ManifestRevision) -> ManifestLoader.Result {
        let loader = ManifestLoader()
        guard let gitPath = (source as? GitManifestSource)?.path,
            let text = try? String(contentsOfFile: revision.file, encoding: .utf8)
        else { return loader.load(file: revision.file) }
        return loader.load(
            text: text, file: gitPath, baseDirectory: URL(fileURLWithPath: revision.file).deletingLastPathComponent().path)
    }

    private func reject(
        _ revision: ManifestRevision, _ reason: AppliedSource.Rejection.Reason, _ diagnostics: [String], _ why: String
    ) async -> Verdict {
        let rejection = AppliedSource.Rejection(
            commit: revision.commit, sha256: revision.sha256, at: Date(), reason: reason, diagnostics: diagnostics)
        record.rejected = rejection
        save()
        let still = lastGood.map { "the last good version (\($0.shortDescription)) keeps running" } ?? "nothing runs"
        logger.error("manifest \(revision.shortDescription) not applied: \(why); \(still)", metadata: origin(revision))
        if let lastGood {
            do {
                try await source.reinstate(lastGood)
            } catch {
                logger.error("cannot go back to the last good version: \(error)")
            }
        }
        return .rejected(rejection)
    }

    private func save() {
        do { try record.write(to: state) } catch { logger.error("cannot record the applied source: \(error)") }
    }

    private func origin(_ revision: ManifestRevision?) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["source": "\(record.url ?? record.path)"]
        if let commit = revision?.commit { metadata["commit"] = "\(commit)" }
        return metadata
    }
}
