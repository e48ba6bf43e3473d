// The manifest exactly as written (apiVersion rockchipllama/v1). Optional fields stay optional here; the
// defaults a device actually runs with are applied in `ResolvedManifest`, so re-encoding a manifest gives
// back what the person wrote. docs/manifest.md documents every key.

public struct Manifest: Codable, Sendable, Equatable {
    public var apiVersion: String
    public var kind: ManifestKind
    public var metadata: Metadata
    public var selector: DeviceSelector?
    public var device: Device?
    public var runtimes: Runtimes?
    public var models: [Model]
    public var endpoints: [Endpoint]?
    public var source: Source?

    public static let currentAPIVersion = "rockchipllama/v1"
}

public enum ManifestKind: String, ManifestEnum {
    case device = "Device"
}

public struct Metadata: Codable, Sendable, Equatable {
    public var name: String
    public var labels: [String: String]?
}

/// Which devices of a fleet apply this manifest; a device not selected leaves it alone.
public struct DeviceSelector: Codable, Sendable, Equatable {
    /// Host names, with `*` and `?` wildcards.
    public var hostnames: [String]?
    /// Every label listed must be on the device with the same value.
    public var labels: [String: String]?

    public init(hostnames: [String]? = nil, labels: [String: String]? = nil) {
        self.hostnames = hostnames
        self.labels = labels
    }
}

public struct Device: Codable, Sendable, Equatable {
    public var soc: SoC?
    public var clocks: ClockPolicy?
    public var memory: MemoryOptions?
}

/// How much memory the models may use together: at most one of `budget` and `reserve`.
public struct MemoryOptions: Codable, Sendable, Equatable {
    /// A fixed budget; left out, it is derived from the machine's available memory.
    public var budget: ByteSize?
    /// What a derived budget leaves to the rest of the system.
    public var reserve: ByteSize?
}

public enum SoC: String, ManifestEnum {
    case auto, rk3588, rk3576, rk3562, generic

    /// CPU cores on the SoC, or nil when only the running machine can tell.
    public var coreCount: Int? {
        switch self {
        case .rk3588, .rk3576: 8
        case .rk3562: 4
        case .auto, .generic: nil
        }
    }
}

public enum ClockPolicy: String, ManifestEnum {
    case untouched, pinned
}

public struct Runtimes: Codable, Sendable, Equatable {
    public var rkllm: RKLLMRuntime?
    public var llamacpp: LlamaRuntime?
    public var axllm: AXLLMRuntime?
    public var rknn: RKNNRuntime?
}

/// Rockchip's RKNN runtime, which runs rkllm models' vision encoders.
public struct RKNNRuntime: Codable, Sendable, Equatable {
    public var library: String?
}

public struct RKLLMRuntime: Codable, Sendable, Equatable {
    public var library: String?
    public var abi: RKLLMABI?
}

public enum RKLLMABI: String, ManifestEnum {
    case auto
    case v1Dot2 = "1.2"
    case v1Dot3 = "1.3"
}

public struct LlamaRuntime: Codable, Sendable, Equatable {
    public var library: String?
}

public struct AXLLMRuntime: Codable, Sendable, Equatable {
    public var binary: String?
}

// MARK: Endpoints and source

public struct Endpoint: Codable, Sendable, Equatable {
    public var name: String
    public var listen: ListenAddress
    public var apis: [APIKind]?
    public var models: [String]?
    public var auth: Auth?
    public var cors: CORS?
    public var maxBodyBytes: Int?
    public var remoteImages: RemoteImages?
}

/// Image URLs the endpoint fetches on a client's behalf (OpenAI `image_url` with http or https). Off unless
/// given: a server that fetches any URL it is sent can be pointed at the inside of its own network.
public struct RemoteImages: Codable, Sendable, Equatable {
    /// Host names (or addresses) URLs may name; `*` allows any.
    public var hosts: [String]
    public var timeout: ManifestDuration?
    public var maxSize: ByteSize?
}

public enum APIKind: String, ManifestEnum {
    case openai, ollama, admin, metrics
}

public struct Auth: Codable, Sendable, Equatable {
    /// One bearer token per line; blank lines and `#` comments are ignored.
    public var tokensFile: String
}

public struct CORS: Codable, Sendable, Equatable {
    public var origins: [String]
}

public struct Source: Codable, Sendable, Equatable {
    public var git: GitSource
}

public struct GitSource: Codable, Sendable, Equatable {
    public var url: String
    public var branch: String?
    public var path: String
    public var interval: ManifestDuration?
}
