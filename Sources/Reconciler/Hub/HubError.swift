/// A failed Hugging Face download, with a code a caller can match on and a message for people.
public struct HubError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String {
            case needsToken, forbidden, notFound, network, server, badResponse, checksumMismatch, cacheWrite, badSource
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// 401: the repository is gated or private and no token (or a refused one) was sent.
        public static let needsToken = Code(.needsToken)
        /// 403: the token has no access, e.g. a gated repository whose terms were not accepted.
        public static let forbidden = Code(.forbidden)
        /// 404: no such repository, revision or file.
        public static let notFound = Code(.notFound)
        /// The connection failed or dropped; retried.
        public static let network = Code(.network)
        /// 429 or 5xx; retried.
        public static let server = Code(.server)
        /// An answer that is not the hub's resolve protocol (no X-Repo-Commit, an unusable ETag, a bad redirect).
        public static let badResponse = Code(.badResponse)
        public static let checksumMismatch = Code(.checksumMismatch)
        public static let cacheWrite = Code(.cacheWrite)
        /// A repository or file name that cannot be a path in the cache.
        public static let badSource = Code(.badSource)

        public var description: String { value.rawValue }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Whether another attempt may succeed: dropped connections and overloaded servers, not refusals.
    public var isRetryable: Bool { code == .network || code == .server }

    public var description: String { message }
}
