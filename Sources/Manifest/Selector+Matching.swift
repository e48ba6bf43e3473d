#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

extension DeviceSelector {
    /// Whether a device with this host name and these labels applies the manifest. Host names are shell
    /// patterns (`opi5-*`); every selector label must be present with the same value.
    public func matches(hostname: String, labels deviceLabels: [String: String]) -> Bool {
        if let hostnames, !hostnames.isEmpty, !hostnames.contains(where: { fnmatch($0, hostname, 0) == 0 }) { return false }
        return (labels ?? [:]).allSatisfy { deviceLabels[$0.key] == $0.value }
    }
}
