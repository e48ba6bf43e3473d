#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// dlsym with bookkeeping: records every missing name so one error can list them all.
struct DynamicSymbolTable {
    let handle: UnsafeMutableRawPointer
    var missing: [String] = []

    init(handle: UnsafeMutableRawPointer) { self.handle = handle }

    /// dlopens `path` with RTLD_LOCAL, so its symbols stay out of the process's global namespace (another
    /// library may bring its own copies). Throws `libraryNotFound`: "cannot open `what` at `path`: <dlerror>".
    /// Libraries are never closed (see the callers for why).
    init(opening path: String, what: String) throws(EngineError) {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
            throw EngineError(.libraryNotFound, "cannot open \(what) at \(path): \(reason)")
        }
        self.handle = handle
    }

    mutating func resolve<F>(_ name: String) -> F {
        if let symbol = dlsym(handle, name) {
            return unsafeBitCast(symbol, to: F.self)
        }
        missing.append(name)
        // A placeholder of the right type so initialisation can finish and report every missing name;
        // every loader throws before a library with a missing symbol is used, so it is never called.
        return unsafeBitCast(handle, to: F.self)
    }
}
