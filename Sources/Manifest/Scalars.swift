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

/// An amount of memory written as `512MiB`, `6GiB`, `1.5GiB`, `4G` or a bare number of bytes.
///
/// Units are case-insensitive: `KiB`, `MiB`, `GiB`, `TiB` are powers of 1024, `KB`, `MB`, `GB`, `TB` powers of
/// 1000, and a bare `K`, `M`, `G` or `T` means the binary unit, as in Docker's `6g`. `B` is bytes.
public struct ByteSize: ManifestScalar, Comparable {
    public var bytes: Int64

    public init(bytes: Int64) { self.bytes = bytes }

    public static let placeholder = ByteSize(bytes: 0)

    /// Multipliers by lower-cased unit.
    private static let multipliers: [String: Int64] = [
        "": 1, "b": 1,
        "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tib": 1 << 40,
        "kb": 1_000, "mb": 1_000_000, "gb": 1_000_000_000, "tb": 1_000_000_000_000,
    ]

    /// The units `text` writes, largest first.
    private static let canonicalUnits: [(suffix: String, bytes: Int64)] = [
        ("TiB", 1 << 40), ("TB", 1_000_000_000_000), ("GiB", 1 << 30), ("GB", 1_000_000_000), ("MiB", 1 << 20),
        ("MB", 1_000_000), ("KiB", 1 << 10), ("KB", 1_000),
    ]

    public static func parse(_ text: String) -> Result<ByteSize, ScalarParseError> {
        let failure = ScalarParseError("expected a size like 512MiB, 6GiB or 4G, found '\(text)'")
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let number = trimmed.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        let unit = trimmed.dropFirst(number.count).lowercased()
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard let multiplier = multipliers[unit], (1...2).contains(parts.count), !parts[0].isEmpty,
            let whole = Int64(parts[0])
        else { return .failure(failure) }
        var (bytes, overflow) = whole.multipliedReportingOverflow(by: multiplier)
        if parts.count == 2 {
            // A fraction of a byte cannot be given; a fraction of a larger unit is rounded to whole bytes.
            guard !parts[1].isEmpty, multiplier > 1, let fraction = Double("0." + parts[1]) else { return .failure(failure) }
            (bytes, overflow) = bytes.addingReportingOverflow(Int64((fraction * Double(multiplier)).rounded()))
        }
        return overflow ? .failure(failure) : .success(ByteSize(bytes: bytes))
    }

    /// The largest unit that writes the size as a whole number (`6GiB`, `1536MiB`, `6GB`), else bytes.
    public var text: String {
        for unit in Self.canonicalUnits where bytes >= unit.bytes && bytes % unit.bytes == 0 {
            return "\(bytes / unit.bytes)\(unit.suffix)"
        }
        return "\(bytes)"
    }

    /// For people rather than manifests: binary units with a space, one decimal below 10 (`174 MiB`, `1.5 GiB`,
    /// `900 B`).
    public var readable: String {
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = "B"
        for next in units where abs(value) >= 1024 {
            value /= 1024
            unit = next
        }
        if unit == "B" { return "\(bytes) B" }
        let rounded = abs(value) < 9.95 ? (value * 10).rounded() / 10 : value.rounded()
        let shown = rounded == rounded.rounded() ? String(Int64(rounded)) : String(format: "%.1f", rounded)
        return "\(shown) \(unit)"
    }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool { lhs.bytes < rhs.bytes }
}
