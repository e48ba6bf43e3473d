public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Finds libllama.so, in this order: the manifest's `runtimes.llamacpp.library`; `$RUNNER_LLAMA_LIBRARY`; an
/// installed layout next to the executable (`PREFIX/bin/runner` with `PREFIX/lib/rockchipllama/libllama.so`);
/// the `.deps/` install `make setup` made, looked up from the working directory and then from the
/// executable's directory upwards (so a repository's own build runs from anywhere); else the dynamic
/// linker's own search path.
public enum LlamaLibraryLocator {
    public static let fileName = "libllama.so"

    /// The `runner` binary of this process, with symlinks resolved.
    public static var currentExecutable: String { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path }

    public static func locate(
        manifestLibrary: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
        workingDirectory: String = FileManager.default.currentDirectoryPath, executable: String = currentExecutable
    ) -> String {
        if let manifestLibrary { return manifestLibrary }
        if let fromEnvironment = environment["RUNNER_LLAMA_LIBRARY"], !fromEnvironment.isEmpty { return fromEnvironment }
        let binDirectory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        let installed = binDirectory.deletingLastPathComponent().appendingPathComponent("lib/rockchipllama/\(fileName)").path
        if FileManager.default.fileExists(atPath: installed) { return installed }
        if let found = inDeps(under: URL(fileURLWithPath: workingDirectory)) { return found }
        var directory = binDirectory
        while directory.path != "/" {
            if let found = inDeps(under: directory) { return found }
            directory.deleteLastPathComponent()
        }
        // A bare name makes dlopen search LD_LIBRARY_PATH, the ld.so cache and the system directories.
        return fileName
    }

    /// The library in `root/.deps/venv/lib/python*/site-packages/lib`, the newest python first.
    static func inDeps(under root: URL) -> String? {
        let lib = root.appendingPathComponent(".deps/venv/lib")
        let pythons =
            (try? FileManager.default.contentsOfDirectory(atPath: lib.path))?.filter { $0.hasPrefix("python") }.sorted() ?? []
        for python in pythons.reversed() {
            let candidate = lib.appendingPathComponent(python).appendingPathComponent("site-packages/lib/\(fileName)").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Why the library at `path` cannot serve a worker, or nil when it can: it opens (with the ggml libraries
    /// it needs) and exports llama.cpp's entry point. Checked before an apply changes anything, so a missing
    /// library is refused up front instead of showing as a worker that keeps exiting.
    public static func problem(with path: String) -> String? {
        if path.contains("/"), !FileManager.default.fileExists(atPath: path) { return "\(path) does not exist" }
        // RTLD_LAZY: only the library's presence and its dependencies are checked; nothing is bound or run
        // beyond its initialisers. RTLD_LOCAL keeps its symbols out of this process's namespace.
        guard let handle = dlopen(path, RTLD_LAZY | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
            return "cannot open \(path): \(reason)"
        }
        defer { dlclose(handle) }
        guard dlsym(handle, "llama_backend_init") != nil else {
            return "\(path) is not llama.cpp's library (it has no llama_backend_init)"
        }
        return nil
    }
}
