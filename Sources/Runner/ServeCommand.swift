import ArgumentParser

extension RunnerCommand {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Apply a manifest, then keep reconciling until SIGTERM/SIGINT: manifest edits, worker deaths, files, clocks.",
            discussion: """
                The manifest is a file (watched for changes), or a git repository: `source.git` in FILE, or --git URL \
                --path P. A new version is validated and applied incrementally; an invalid one is rejected with its \
                diagnostics and the last good one keeps running. `runner apply FILE --watch` is the same.
                """)

        @Argument(help: "The manifest (with `source.git`: where to find the repository).")
        var file: String?

        @OptionGroup var watching: WatchOptions

        @OptionGroup var state: StateOptions

        @OptionGroup var loading: LoadOptions

        func validate() throws {
            if watching.git == nil && file == nil { throw ValidationError("give a manifest FILE, or --git URL --path P") }
            if watching.git != nil && file != nil { throw ValidationError("give either a manifest FILE or --git, not both") }
            if watching.git != nil && watching.path == nil {
                throw ValidationError("--git needs --path, the manifest in the repository")
            }
        }

        func run() async throws {
            try await Serving(file: file, options: watching, state: state, loading: loading).run()
        }
    }
}

/// How `runner serve` (and `apply --watch`) watches.
struct WatchOptions: ParsableArguments {
    @Option(help: "A git repository to follow instead of a manifest file.")
    var git: String?

    @Option(help: "The branch to follow (with --git).")
    var branch = "main"

    @Option(help: "The manifest's path in the repository (with --git).")
    var path: String?

    @Option(help: "Seconds between looks at the manifest file, the model files and the clocks.")
    var interval: Double = 5

    @Option(help: "Seconds between git fetches (default: source.git.interval, else 60).")
    var fetchInterval: Double?

    @Option(help: "Seconds between worker health checks; a worker missing 3 in a row is restarted.")
    var healthInterval: Double = 5

    @Option(help: "Seconds in-flight requests may take to finish when an endpoint stops (SIGTERM, or its change).")
    var drainTimeout: Double = 10
}

extension Duration {
    /// From a command-line number of seconds, at least a millisecond.
    static func seconds(option value: Double) -> Duration { .milliseconds(max(1, Int((value * 1000).rounded()))) }
}
