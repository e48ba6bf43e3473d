internal import Crypto
internal import Foundation
internal import NIOCore
internal import NIOPosix

/// The `blobs/<etag>.incomplete` file a download writes into, hashed as it grows so the sha256 is known the
/// moment the last byte arrives. Beside it, `<etag>.incomplete.etag` records the ETag of the answer whose
/// bytes it holds, so a resume can tell whether the server still serves the same bytes.
///
/// `@unchecked Sendable`: one download task owns it and awaits each thread-pool call before making the next,
/// so its descriptor, hasher and size are never touched by two threads at once.
final class PartialBlob: @unchecked Sendable {
    let etag: String
    let path: URL
    let sidecar: URL
    private var descriptor: Int32
    private var hasher = SHA256()
    /// Bytes on disk; the hasher covers all of them once `prepareResume()` or `reset()` ran.
    private(set) var size: Int64
    private var hashed = false
    /// The ETag header (quotes kept) of the answer the bytes came from, if it sent one.
    private(set) var contentETag: String?

    private init(etag: String, path: URL, descriptor: Int32, size: Int64) {
        self.etag = etag
        self.path = path
        self.sidecar = path.appendingPathExtension("etag")
        self.descriptor = descriptor
        self.size = size
        self.contentETag = (try? String(contentsOf: sidecar, encoding: .utf8)).flatMap { $0.isEmpty ? nil : $0 }
    }

    static func open(blobs: URL, etag: String) throws -> PartialBlob {
        let path = blobs.appendingPathComponent("\(etag).incomplete")
        do {
            try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        } catch {
            throw HubError(.cacheWrite, "cannot create \(blobs.path): \(error)")
        }
        let descriptor = Foundation.open(path.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw posixError("open", path) }
        // FileManager rather than fstat: `stat` resolves to another module's declaration in release builds.
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path.path))?[.size] as? NSNumber else {
            Foundation.close(descriptor)
            throw posixError("read the size of", path)
        }
        return PartialBlob(etag: etag, path: path, descriptor: descriptor, size: size.int64Value)
    }

    /// Hashes the bytes already there (a resume must cover them too) and returns how many there are.
    func prepareResume() async throws -> Int64 {
        if hashed { return size }
        try await NIOThreadPool.singleton.runIfActive { [self] in
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            var offset: Int64 = 0
            while offset < size {
                let count = chunk.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
                guard count > 0 else { throw posixError("read", path) }
                chunk.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
                offset += Int64(count)
            }
            size = offset
            hashed = true
        }
        return size
    }

    /// Starts over from zero bytes, e.g. when the server answers a Range request with the whole file.
    func reset(contentETag: String?) throws {
        guard ftruncate(descriptor, 0) == 0 else { throw posixError("truncate", path) }
        size = 0
        hasher = SHA256()
        hashed = true
        self.contentETag = contentETag
        if let contentETag {
            try? AtomicFile.write(Data(contentETag.utf8), to: sidecar)
        } else {
            try? FileManager.default.removeItem(at: sidecar)
        }
    }

    func append(_ buffer: ByteBuffer) async throws {
        precondition(hashed, "append before prepareResume or reset")
        try await NIOThreadPool.singleton.runIfActive { [self] in
            try buffer.withUnsafeReadableBytes { bytes in
                var written = 0
                while written < bytes.count {
                    let count = pwrite(
                        descriptor, bytes.baseAddress! + written, bytes.count - written, off_t(size + Int64(written)))
                    guard count > 0 else { throw posixError("write", path) }
                    written += count
                }
                hasher.update(bufferPointer: bytes)
            }
            size += Int64(buffer.readableBytes)
        }
    }

    /// The sha256 of every byte written, in lowercase hex.
    func hexDigest() -> String { hasher.finalize().map { String(format: "%02x", $0) }.joined() }

    /// Makes the bytes durable, then moves them to `blob` in one rename: a reader sees the whole file or none.
    func publish(to blob: URL) async throws {
        try await NIOThreadPool.singleton.runIfActive { [self] in
            guard fsync(descriptor) == 0 else { throw posixError("flush", path) }
            close()
            guard rename(path.path, blob.path) == 0 else { throw posixError("move the download to", blob) }
            try? FileManager.default.removeItem(at: sidecar)
            // The rename itself is durable only once the directory is flushed.
            let directory = Foundation.open(blob.deletingLastPathComponent().path, O_RDONLY | O_CLOEXEC)
            if directory >= 0 {
                fsync(directory)
                Foundation.close(directory)
            }
        }
    }

    /// Deletes the bytes, e.g. after a sha256 mismatch: they must never be resumed or served.
    func discard() {
        close()
        unlink(path.path)
        unlink(sidecar.path)
    }

    func close() {
        if descriptor >= 0 { Foundation.close(descriptor) }
        descriptor = -1
    }

    deinit { close() }
}
