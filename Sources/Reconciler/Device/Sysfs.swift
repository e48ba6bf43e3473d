public import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Kernel attribute files (sysfs, debugfs) under a root directory that stands for `/`. A protocol so that
/// tests can play the kernel: plain files do not react to writes the way sysfs attributes do.
public protocol SysfsAccess: Sendable {
    var root: URL { get }
    /// `path` is relative to the root, e.g. `sys/class/devfreq/dmc/governor`.
    func exists(_ path: String) -> Bool
    /// The file's text with surrounding white space removed.
    func read(_ path: String) throws(SysfsError) -> String
    func write(_ value: String, to path: String) throws(SysfsError)
}

extension SysfsAccess {
    /// The path people see in messages: `/sys/...` on a device, `<temp dir>/sys/...` in tests.
    public func absolute(_ path: String) -> String { root.appendingPathComponent(path).path }
}

/// A failed read or write of one attribute file, with the errno that explains it.
public struct SysfsError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Operation: String, Sendable { case read, write }

    public var operation: Operation
    /// Absolute path.
    public var path: String
    public var code: Int32

    public init(_ operation: Operation, _ path: String, code: Int32) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    public var needsRoot: Bool { code == EACCES || code == EPERM }

    public var description: String {
        if needsRoot { return "needs root: cannot \(operation.rawValue) \(path)" }
        let reason = String(cString: strerror(code))
        // Docker mounts /sys read-only unless the container is privileged.
        if code == EROFS { return "cannot \(operation.rawValue) \(path): \(reason) (/sys must be mounted read-write)" }
        return "cannot \(operation.rawValue) \(path): \(reason)"
    }
}

/// The real files, read and written with plain POSIX calls: sysfs attributes report a size of 4096 whatever
/// they hold, and a write must not create a file where the kernel offers none (no O_CREAT).
public struct SysfsFiles: SysfsAccess {
    public let root: URL

    public init(root: URL = URL(fileURLWithPath: "/")) { self.root = root.standardizedFileURL }

    public func exists(_ path: String) -> Bool { access(absolute(path), F_OK) == 0 }

    public func read(_ path: String) throws(SysfsError) -> String {
        let fullPath = absolute(path)
        guard let bytes = readAll(fullPath) else { throw SysfsError(.read, fullPath, code: errno) }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func write(_ value: String, to path: String) throws(SysfsError) {
        let fullPath = absolute(path)
        // The kernel answers a rejected value from write(2) itself (EINVAL, EBUSY), so its errno is the one to report.
        if let code = writeAll(Array((value + "\n").utf8), to: fullPath) { throw SysfsError(.write, fullPath, code: code) }
    }
}

/// The whole file, or nil with errno set.
private func readAll(_ path: String) -> [UInt8]? {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count < 0 { return nil }
        if count == 0 { return bytes }
        bytes += buffer[0..<count]
    }
}

/// nil when every byte was written, else the errno.
private func writeAll(_ bytes: [UInt8], to path: String) -> Int32? {
    let descriptor = open(path, O_WRONLY | O_TRUNC)
    guard descriptor >= 0 else { return errno }
    defer { close(descriptor) }
    var written = 0
    while written < bytes.count {
        let count = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count < 0 { return errno }
        if count == 0 { return EIO }
        written += count
    }
    return nil
}
