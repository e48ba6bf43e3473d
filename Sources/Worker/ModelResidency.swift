public import Foundation
internal import Synchronization

/// Which models are in memory, as the gateway asks for them: `runner apply` loads a model when a request
/// names it, stops it when it idles, and evicts idle ones to make room (`ModelScheduler`). Without one
/// (the gateway's own tests, in-process engines), every model is always there.
public protocol ModelResidency: Sendable {
    /// A hold on `model` for one request when it is resident now, without waiting; nil when it is not.
    func tryAcquire(_ model: String, keepAlive: KeepAlive?) -> ModelLease?
    /// A hold on `model` for one request, loading it first (and making room) when it is not resident.
    /// Throws `ResidencyRefusal` when it cannot be loaded, or not within the load timeout.
    func acquire(_ model: String, keepAlive: KeepAlive?) async throws -> ModelLease
    /// Loads `model` without a request (Ollama's empty prompt, the admin API); it then stays as `keepAlive` says.
    func load(_ model: String, keepAlive: KeepAlive?) async throws
    /// Stops `model` now, or once its requests have ended. Throws `ResidencyRefusal` for a pinned model.
    @discardableResult func unload(_ model: String) async throws -> Unloading
    /// The models in memory now (loaded and answering, or in use).
    func residents() -> [ResidentModel]
    /// Whether a request for `model` can be served: resident and answering, or loadable on demand.
    func isReady(_ model: String) async -> Bool
}

/// What an unload did.
public enum Unloading: String, Sendable, Codable {
    /// Its worker was stopped.
    case unloaded
    /// It was not loaded.
    case notLoaded = "not-loaded"
    /// Requests are using it (or waiting for it): it is stopped when the last one ends.
    case afterRequests = "after-requests"
}

/// How long a model stays loaded after a request (Ollama's `keep_alive`).
public enum KeepAlive: Sendable, Equatable {
    /// Unloaded as soon as no request uses it.
    case unloadAfterUse
    /// Until it is evicted, unloaded or the manifest drops it.
    case forever
    case duration(Duration)

    /// Ollama's reading of a number of seconds: zero unloads, negative keeps forever. Beyond a century is
    /// forever too (and a duration that large would not fit the clock).
    public init(seconds: Double) {
        if seconds == 0 {
            self = .unloadAfterUse
        } else if seconds < 0 || !(seconds < 100 * 365 * 86_400) {
            self = .forever
        } else {
            self = .duration(.milliseconds(Int64((seconds * 1000).rounded(.up))))
        }
    }
}

/// One request's hold on a resident model. While any hold is out the model is neither evicted nor stopped
/// for idling; the hold is given back once, when the request ends (or when the last reference goes).
public final class ModelLease: Sendable {
    /// How long the request waited for the model to load or for room (zero when it was resident).
    public let waited: Duration
    private let onRelease: Mutex<(@Sendable () -> Void)?>

    public init(waited: Duration = .zero, onRelease: @escaping @Sendable () -> Void) {
        self.waited = waited
        self.onRelease = Mutex(onRelease)
    }

    public func release() {
        let release = onRelease.withLock { handler in
            defer { handler = nil }
            return handler
        }
        release?()
    }

    deinit { release() }
}

/// Why a model could not be made resident for a request.
public struct ResidencyRefusal: Error, Sendable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        /// Its worker did not come up; `message` carries why.
        case loadFailed
        /// Nothing could be stopped to make room before the load timeout.
        case noRoom
        /// It needs more memory than the whole budget.
        case tooLarge
        /// The manifest pins it: it is not unloaded.
        case pinned
        /// The manifest does not declare it (any more).
        case unknown
    }

    public var reason: Reason
    public var message: String
    /// Seconds a client should wait before trying again, when trying again can help.
    public var retryAfter: Int?

    public init(_ reason: Reason, _ message: String, retryAfter: Int? = nil) {
        self.reason = reason
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { message }
}

/// A model in memory, as Ollama's `/api/ps` lists it.
public struct ResidentModel: Sendable, Equatable {
    public var name: String
    /// Measured (the worker's resident memory) once loaded, else the estimate.
    public var bytes: Int64
    /// When it will be stopped for idling; nil when it is kept until evicted or unloaded.
    public var expiresAt: Date?

    public init(name: String, bytes: Int64, expiresAt: Date?) {
        self.name = name
        self.bytes = bytes
        self.expiresAt = expiresAt
    }
}
