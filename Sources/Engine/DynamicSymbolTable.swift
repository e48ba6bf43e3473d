#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// dlsym with bookkeeping: records every missing name so one error can list them all.
struct DynamicSymbolTable {
    let handle: UnsafeMutableRawPointer
    var missing: [String] = []

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
