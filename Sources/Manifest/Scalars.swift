internal import Foundation

/// A length of time written as `500ms`, `30s`, `5m`, `2h` or a bare number of seconds.
public struct ManifestDuration: ManifestScalar, Comparable {
    public var milliseconds: Int

    public init(milliseconds: Int) { self.milliseconds = milliseconds }

    public static func seconds(_ seconds: Int) -> ManifestDuration { ManifestDuration(milliseconds: seconds * 1000) }

    public var duration: Duration { .milliseconds(milliseconds) }

    public static let placeholder = ManifestDuration(milliseconds: 0)

    private static let units: [(suffix: String, milliseconds: Int)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]

    public static func parse(_ text: String) -> Result<ManifestDuration, ScalarParseError> {
        let failure = ScalarParseError("expected a duration like 30s, 5m or 1h, found '\(text)'")
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed), seconds >= 0 { return .success(.seconds(seconds)) }
        // "ms" before "m"/"s", so the longest suffix wins.
        for unit in units.sorted(by: { $0.suffix.count > $1.suffix.count }) where trimmed.hasSuffix(unit.suffix) {
            guard let amount = Int(trimmed.dropLast(unit.suffix.count)), amount >= 0 else { return .failure(failure) }
            return .success(ManifestDuration(milliseconds: amount * unit.milliseconds))
        }
        return .failure(failure)
    }

    public var text: String {
        for unit in Self.units.reversed() where milliseconds % unit.milliseconds == 0 && milliseconds >= unit.milliseconds {
            return "\(milliseconds / unit.milliseconds)\(unit.suffix)"
        }
        return "\(milliseconds)ms"
    }

    public static func < (lhs: ManifestDuration, rhs: ManifestDuration) -> Bool { lhs.milliseconds < rhs.milliseconds }
}

/// Where an endpoint listens: `HOST:PORT`, `:PORT` (all interfaces), `[IPv6]:PORT` or `unix:/path/to.sock`.
public enum ListenAddress: ManifestScalar {
    case tcp(host: String, port: Int)
    case unix(path: String)

    public static let placeholder = ListenAddress.tcp(host: "", port: 0)

    public static func parse(_ text: String) -> Result<ListenAddress, ScalarParseError> {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst("unix:".count))
            return path.isEmpty
                ? .failure(ScalarParseError("a unix socket address needs a path, e.g. unix:/run/runner.sock"))
                : .success(.unix(path: path))
        }
        guard let colon = text.lastIndex(of: ":") else {
            return .failure(ScalarParseError("expected HOST:PORT (e.g. 0.0.0.0:8080), found '\(text)'"))
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            return .failure(ScalarParseError("port in '\(text)' must be a number from 1 to 65535"))
        }
        return .success(.tcp(host: host.isEmpty ? "0.0.0.0" : host, port: port))
    }

    public var text: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }

    /// Two addresses that cannot both be bound: the same socket path, or the same port where either host is a
    /// wildcard or both hosts are equal.
    public func conflicts(with other: ListenAddress) -> Bool {
        switch (self, other) {
        case (.unix(let a), .unix(let b)): return a == b
        case (.tcp(let hostA, let portA), .tcp(let hostB, let portB)):
            let wildcards: Set<String> = ["0.0.0.0", "::", "*"]
            return portA == portB && (hostA == hostB || wildcards.contains(hostA) || wildcards.contains(hostB))
        default: return false
        }
    }
}
