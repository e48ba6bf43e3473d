import ArgumentParser

@main
struct RunnerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runner",
        abstract: "Declarative LLM serving on edge boards: make this device match a manifest and keep it that way.",
        discussion: "Start with `runner validate FILE` and `runner plan FILE`; docs/manifest.md documents the format.",
        version: RunnerVersion.current,
        subcommands: [Validate.self, Plan.self, Apply.self, Serve.self, Status.self, Delete.self, WorkerCommand.self])
}

enum RunnerVersion {
    static let current = "0.1.0"
}
