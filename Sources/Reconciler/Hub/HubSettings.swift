public import Foundation

/// Where files come from and with which credentials, read from the same environment variables
/// `huggingface_hub` reads, so one configuration serves both.
public struct HubSettings: Sendable {
    /// The hub's base URL without a trailing slash: `HF_ENDPOINT`, else `https://huggingface.co`.
    public var endpoint: String
    public var token: HubToken?

    public init(endpoint: String = "https://huggingface.co", token: HubToken? = nil) {
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.token = token
    }

    /// The token is `HF_TOKEN`, else the file `HF_TOKEN_PATH`, else `$HF_HOME/token` (HF_HOME defaulting to
    /// `~/.cache/huggingface`, where `hf auth login` writes it).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> HubSettings {
        let endpoint = environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://huggingface.co"
        return HubSettings(endpoint: endpoint, token: token(environment))
    }

    static func token(_ environment: [String: String]) -> HubToken? {
        if let value = environment["HF_TOKEN"].map(trimmed), !value.isEmpty { return HubToken(value) }
        let path: String
        if let explicit = environment["HF_TOKEN_PATH"], !explicit.isEmpty {
            path = explicit
        } else if let home = environment["HF_HOME"], !home.isEmpty {
            path = home + "/token"
        } else {
            let cache =
                environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
                ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.cache"
            path = cache + "/huggingface/token"
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let value = trimmed(text)
        return value.isEmpty ? nil : HubToken(value)
    }

    private static func trimmed(_ text: String) -> String { text.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// `scheme://host:port` of a URL, lowercased, with the default port made explicit, so the token goes
    /// only where the endpoint itself is.
    static func origin(of url: URL) -> String? {
        guard let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() else { return nil }
        let port = url.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : -1)
        return "\(scheme)://\(host):\(port)"
    }
}

/// A hub access token. Its description is redacted so that interpolating it into a log line or an error
/// can never leak it; only `HubTransfer` reads `value`, to build the Authorization header.
public struct HubToken: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    let value: String

    public init(_ value: String) { self.value = value }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}
