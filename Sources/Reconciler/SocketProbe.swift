internal import Foundation

/// Whether something listens on a Unix socket, asked with one non-blocking `connect(2)` and no retries. The
/// HTTP client retries a socket nobody listens on with a growing backoff (100 ms × 1.25ⁿ), so asking it
/// alone whether a starting worker is up notices the worker up to a third of its load time late.
enum SocketProbe {
    static func accepts(_ path: String) -> Bool {
        // Non-blocking: a listener whose backlog is full would otherwise hold the caller (an actor's thread)
        // until it accepts.
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        // A full backlog (EAGAIN) still means someone listens.
        return connected == 0 || errno == EAGAIN
    }
}
