internal import AsyncHTTPClient
public import Foundation
public import Logging
internal import NIOCore

/// Downloads Hugging Face files into the standard hub cache (`models--ORG--NAME/{blobs,snapshots,refs}`), so
/// `huggingface_hub` finds what the runner fetched and the runner reuses a cache `huggingface_hub` filled.
///
/// A file whose revision is already resolved in the cache is not fetched again and costs no request: a
/// commit hash is its own answer, and a branch or tag is taken from `refs/<revision>` as first resolved
/// (to follow a branch that moved, pin the new commit or delete the ref). With a sha256, the cached file is
/// hashed once and then remembered in `verified` (see `VerifiedBlobs`).
public struct HubDownloader: Sendable {
    public struct Retry: Sendable {
        /// Attempts in all, each resuming where the previous one stopped.
        public var attempts: Int
        /// Wait after the first failed attempt, doubled after each further one, at most 30 s.
        public var backoff: Duration

        public init(attempts: Int = 5, backoff: Duration = .seconds(1)) {
            self.attempts = attempts
            self.backoff = backoff
        }

        func delay(after attempt: Int) -> Duration { min(backoff * (1 << min(attempt - 1, 10)), .seconds(30)) }
    }

    public var cache: HubCacheLayout
    public var settings: HubSettings
    /// Nil: a sha256 is checked by hashing the cached file every time.
    public var verified: VerifiedBlobs?
    public var retry: Retry
    public var logger: Logger
    /// How often a download logs its progress; nil: only when it starts and ends (e.g. with a progress bar).
    public var logInterval: Duration?
    /// How long one connection attempt may take (the HTTP client keeps retrying a refused one until then).
    public var connectTimeout: Duration = .seconds(15)
    /// How long a connection may stay silent mid-answer before the attempt counts as dropped.
    public var readTimeout: Duration = .seconds(60)

    public init(
        cache: HubCacheLayout, settings: HubSettings = .fromEnvironment(), verified: VerifiedBlobs? = nil,
        retry: Retry = Retry(), logger: Logger, logInterval: Duration? = .seconds(5)
    ) {
        self.cache = cache
        self.settings = settings
        self.verified = verified
        self.retry = retry
        self.logger = logger
        self.logInterval = logInterval
    }

    /// Makes sure the file is in the cache and returns its snapshot path. `progress` is called as bytes
    /// arrive (not at all when the file was cached).
    @discardableResult
    public func ensure(_ file: HubFile, progress: @escaping @Sendable (HubProgress) -> Void = { _ in }) async throws -> URL {
        try file.validate()
        if let cached = cache.cachedFile(repo: file.repo, file: file.file, revision: file.revision),
            try await isAcceptable(cached, file)
        {
            return cached
        }
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .init(connectTimeout), read: .init(readTimeout)))
        // Progress and sha256 need the bytes as stored; never let a proxy or server compress them.
        configuration.decompression = .disabled
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let snapshot = try await download(file, http: http, progress: progress)
            try await http.shutdown()
            return snapshot
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    private func download(_ file: HubFile, http: HTTPClient, progress: @escaping @Sendable (HubProgress) -> Void) async throws
        -> URL
    {
        var meter = ProgressMeter(file: file, logger: logger, logInterval: logInterval, callback: progress)
        var known: HubMetadata?
        var attempt = 1
        while true {
            do {
                return try await HubTransfer(downloader: self, file: file, http: http).run(known: &known, meter: &meter)
            } catch let error as HubError where error.isRetryable && attempt < retry.attempts {
                let delay = retry.delay(after: attempt)
                logger.warning(
                    "download interrupted; resuming",
                    metadata: [
                        "repo": "\(file.repo)", "file": "\(file.file)", "attempt": "\(attempt)", "error": "\(error.message)",
                        "after": "\(delay)",
                    ])
                try await Task.sleep(for: delay)
                attempt += 1
            }
        }
    }

    /// Whether a file already in the cache may be used as is: always without a sha256, else when it matches.
    func isAcceptable(_ path: URL, _ file: HubFile) async throws -> Bool {
        guard let expected = file.sha256 else { return true }
        if verified?.isVerified(path, sha256: expected) == true { return true }
        let actual = try await VerifiedBlobs.sha256(of: path)
        if actual == expected {
            verified?.mark(path, sha256: expected)
            return true
        }
        logger.warning(
            "cached file does not match the manifest's sha256; downloading it again",
            metadata: ["repo": "\(file.repo)", "file": "\(file.file)", "expected": "\(expected)", "got": "\(actual)"])
        return false
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
