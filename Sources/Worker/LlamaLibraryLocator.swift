public import Foundation

/// Finds libllama.so: the manifest's `runtimes.llamacpp.library`, else `$RUNNER_LLAMA_LIBRARY`, else the
/// `.deps/` install `make setup` made (looked up from the working directory), else the dynamic linker's
/// own search path.
public enum LlamaLibraryLocator {
    public static func locate(
        manifestLibrary: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
        workingDirectory: String = FileManager.default.currentDirectoryPath
    ) -> String {
        if let manifestLibrary { return manifestLibrary }
        if let fromEnvironment = environment["RUNNER_LLAMA_LIBRARY"], !fromEnvironment.isEmpty { return fromEnvironment }
        let lib = URL(fileURLWithPath: workingDirectory).appendingPathComponent(".deps/venv/lib")
        let pythons =
            (try? FileManager.default.contentsOfDirectory(atPath: lib.path))?.filter { $0.hasPrefix("python") }.sorted() ?? []
        for python in pythons.reversed() {
            let candidate = lib.appendingPathComponent(python).appendingPathComponent("site-packages/lib/libllama.so").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        // A bare name makes dlopen search LD_LIBRARY_PATH, the ld.so cache and the system directories.
        return "libllama.so"
    }
}
