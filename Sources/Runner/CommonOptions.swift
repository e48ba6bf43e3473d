import ArgumentParser
import Foundation
import Manifest
import Reconciler

/// Options every command that touches device state shares.
struct StateOptions: ParsableArguments {
    @Option(
        help: "State directory (default: $RUNNER_STATE_DIR, /var/lib/rockchipllama as root, else ~/.local/state/rockchipllama).")
    var stateDir: String?

    @Option(
        name: .customLong("label"),
        help: "A label of this device, KEY=VALUE, for fleet selectors (repeatable; also $RUNNER_LABELS).")
    var labels: [String] = []

    @Option(help: "Where the device's /sys and /proc are (default: $RUNNER_SYSFS_ROOT, else /); for containers and tests.")
    var sysfsRoot: String?

    var stateDirectory: StateDirectory { StateDirectory.resolve(explicit: stateDir) }

    /// Clock pinning against this device's tree, remembering originals in the state directory.
    var clockPinning: ClockPinning { ClockPinning(root: deviceRoot, record: stateDirectory.clockRecord) }

    /// The device's `/`, for its /sys and /proc.
    var deviceRoot: URL { Self.deviceRoot(explicit: sysfsRoot) }

    static func deviceRoot(explicit: String?) -> URL {
        let root = explicit ?? ProcessInfo.processInfo.environment["RUNNER_SYSFS_ROOT"] ?? "/"
        return URL(fileURLWithPath: root.isEmpty ? "/" : root)
    }

    /// Everything a plan reads: the state directory, the HF cache, the clocks and the memory.
    var observer: StateObserver {
        let directory = stateDirectory
        return StateObserver(
            state: directory, hub: HubCacheLayout(hub: directory.hubCache()), clocks: clockPinning,
            memInfo: deviceRoot.appendingPathComponent("proc/meminfo"))
    }

    func deviceLabels() throws -> [String: String] {
        let fromEnvironment = (ProcessInfo.processInfo.environment["RUNNER_LABELS"] ?? "").split(separator: ",").map(String.init)
        var result: [String: String] = [:]
        for pair in fromEnvironment + labels where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("label '\(pair)' must be KEY=VALUE") }
            result[parts[0]] = parts[1]
        }
        return result
    }
}

/// Printing for people (stdout) and diagnostics (stderr), kept apart so scripts can read stdout.
enum Console {
    /// Unbuffered, so a long-running command's progress reaches a pipe or log file at once.
    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

/// Loads and validates a manifest, printing every diagnostic; throws exit code 1 when it has errors.
func loadManifestOrExit(_ path: String) throws -> (Manifest, ResolvedManifest) {
    let result = ManifestLoader().load(file: path)
    for diagnostic in result.diagnostics { Console.error(diagnostic.description) }
    guard let manifest = result.manifest, let resolved = result.resolved else {
        let count = result.diagnostics.filter { $0.severity == .error }.count
        Console.error("\(path): \(count) error\(count == 1 ? "" : "s"); nothing was applied")
        throw ExitCode.failure
    }
    return (manifest, resolved)
}

/// Whether the manifest's fleet selector picks this device; prints why not when it does not.
func deviceIsSelected(_ manifest: ResolvedManifest, options: StateOptions) throws -> Bool {
    guard let refusal = try selectionRefusal(manifest, options: options) else { return true }
    Console.out("\(refusal); nothing to do")
    return false
}

/// Why the manifest's fleet selector does not pick this device, or nil when it does.
func selectionRefusal(_ manifest: ResolvedManifest, options: StateOptions) throws -> String? {
    guard let selector = manifest.selector else { return nil }
    let hostname = ProcessInfo.processInfo.hostName
    let labels = try options.deviceLabels()
    if selector.matches(hostname: hostname, labels: labels) { return nil }
    let shown = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    return "this device (\(hostname)\(shown.isEmpty ? "" : ", labels \(shown)")) is not selected by manifest '\(manifest.name)'"
}

/// How long workers may take to come up, and how long a request waits for its model.
struct LoadOptions: ParsableArguments {
    @Option(help: "Seconds a worker may take to load its model and prompt caches.")
    var readinessTimeout: Int = 300

    @Option(
        help: """
            Seconds a request waits for its model to load, or for memory to load it in, before it is answered 503 \
            (default: the readiness timeout).
            """)
    var loadTimeout: Int?

    var readiness: Duration { .seconds(readinessTimeout) }
    var requestWait: Duration { .seconds(loadTimeout ?? readinessTimeout) }
}
