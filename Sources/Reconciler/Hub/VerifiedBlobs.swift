internal import Crypto
public import Foundation
internal import NIOPosix

/// Remembers which blobs were checked against a sha256, so a second apply does not read gigabytes again.
/// A marker `<sha256>` records the blob's device, inode, size and modification time when it was hashed;
/// any change to the file makes it count as unverified.
public struct VerifiedBlobs: Sendable {
    public var directory: URL

    public init(directory: URL) { self.directory = directory }

    func isVerified(_ file: URL, sha256: String) -> Bool {
        guard let identity = Self.identity(of: file),
            let recorded = try? String(contentsOf: directory.appendingPathComponent(sha256), encoding: .utf8)
        else { return false }
        return recorded == identity
    }

    /// Best effort: a marker that cannot be written only costs a re-hash next time.
    func mark(_ file: URL, sha256: String) {
        guard let identity = Self.identity(of: file) else { return }
        try? AtomicFile.write(Data(identity.utf8), to: directory.appendingPathComponent(sha256))
    }

    /// Follows symlinks, so a snapshot path identifies its blob.
    static func identity(of file: URL) -> String? {
        // FileManager rather than stat(): `stat` resolves to another module's declaration in release builds.
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file.path) else { return nil }
        let device = (attributes[.systemNumber] as? NSNumber)?.uint64Value ?? 0
        let inode = (attributes[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0
        let size = (attributes[.size] as? NSNumber)?.uint64Value ?? 0
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "\(device) \(inode) \(size) \(modified) \(file.resolvingSymlinksInPath().path)"
    }

    /// The sha256 of a whole file in lowercase hex, read on NIO's thread pool.
    static func sha256(of file: URL) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive {
            let descriptor = open(file.path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw posixError("open", file) }
            defer { close(descriptor) }
            var hasher = SHA256()
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                guard count >= 0 else { throw posixError("read", file) }
                if count == 0 { break }
                chunk.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
            }
            return hasher.finalize().map { String(format: "%02x", $0) }.joined()
        }
    }
}

extension StateDirectory {
    /// Markers of blobs whose sha256 was checked (see `VerifiedBlobs`). Kept out of the hub cache, which may be
    /// mounted read-only or shared with other tools.
    public var verifiedBlobs: URL { root.appendingPathComponent("hub-verified") }
}
