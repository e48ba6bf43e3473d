internal import Foundation
internal import Synchronization

#if canImport(Glibc)
    internal import Glibc
#endif

/// The vendor's processes of one worker (its server, and the legacy server's tokenizer service), in one
/// process group of their own. The group's leader is a small watchdog shell that ends the whole group when
/// the worker is gone, so a worker killed with SIGKILL never leaves a server holding the NPU, its port or a
/// tokenizer service behind; a worker that stops normally ends the group itself (`stop`).
final class VendorProcesses: Sendable {
    /// The watchdog's pid, which is also the group id.
    let group: pid_t
    /// The watchdog itself, reaped when the group ends.
    private let watchdog: ChildProcess

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts the watchdog; `spawn` then adds members to its group.
    init() throws(SpawnError) {
        // `$1` is the worker; the loop ends when the watchdog's parent is no longer it (re-parented on its death).
        let script = #"while read -r _ _ _ ppid _ < /proc/$$/stat && [ "$ppid" = "$1" ]; do sleep 0.5; done; kill -KILL 0"#
        let argv = ["/bin/sh", "-c", script, "axllm-watchdog", String(getpid())]
        group = try Self.spawn(argv, group: 0)
        watchdog = ChildProcess(pid: group, command: argv)
    }

    /// Starts `command` in `directory`, in the group, with `environment` added to the worker's own.
    func spawn(_ command: [String], in directory: String, environment: [String: String] = [:]) throws(SpawnError) -> ChildProcess
    {
        // The shell changes directory and replaces itself with the command: the pid is the command's.
        let argv = ["/bin/sh", "-c", #"cd "$0" && exec "$@""#, directory] + command
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { _, new in new }
        return ChildProcess(pid: try Self.spawn(argv, group: group, environment: env), command: command)
    }

    /// Asks every member to stop (SIGTERM), waits up to `grace` for `main` to exit, then kills the whole group.
    func stop(_ members: [ChildProcess], main: ChildProcess?, grace: Duration) async {
        for member in members { kill(member.pid, SIGTERM) }
        let deadline = ContinuousClock.now + grace
        while let main, main.exited == nil, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        killAll()
    }

    /// Kills the whole group at once: for a server that no longer answers, a polite stop would only wait.
    func killAll() {
        kill(-group, SIGKILL)
    }

    private static func spawn(_ argv: [String], group: pid_t, environment: [String: String]? = nil) throws(SpawnError)
        -> pid_t
    {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, group)
        let arguments = argv.map { strdup($0) } + [nil]
        let variables = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0)=\($1)") } + [nil]
        defer {
            for pointer in arguments + variables { free(pointer) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, argv[0], nil, &attributes, arguments, variables)
        guard status == 0 else {
            throw SpawnError(description: "cannot start \(argv.last ?? argv[0]): \(String(cString: strerror(status)))")
        }
        return pid
    }
}

/// One started process and its exit, waited for on a thread of its own (`waitpid` blocks). `exited` can be
/// looked at any time without waiting; `exitStatus()` waits.
final class ChildProcess: Sendable {
    let pid: pid_t
    let command: [String]
    private let status: ExitStatus
    private let exit: Task<Int32, Never>

    private final class ExitStatus: Sendable {
        let value = Mutex<Int32?>(nil)
    }

    init(pid: pid_t, command: [String]) {
        self.pid = pid
        self.command = command
        let status = ExitStatus()
        self.status = status
        exit = Task {
            await withCheckedContinuation { continuation in
                let thread = Thread {
                    var code: Int32 = 0
                    while waitpid(pid, &code, 0) < 0 && errno == EINTR {}
                    status.value.withLock { $0 = code }
                    continuation.resume(returning: code)
                }
                thread.start()
            }
        }
    }

    /// The wait status if the process has exited, else nil.
    var exited: Int32? { status.value.withLock { $0 } }

    /// The wait status, once the process has exited.
    func exitStatus() async -> Int32 { await exit.value }

    /// "exited with status N" or "killed by signal N", for messages.
    static func describe(_ status: Int32) -> String {
        let signal = status & 0x7f
        return signal == 0 ? "exited with status \((status >> 8) & 0xff)" : "was killed by signal \(signal)"
    }
}

/// A TCP port on the loopback interface that nothing listens on now (the kernel's pick for port 0).
func freeLoopbackPort() throws -> Int {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socket >= 0 else { throw VendorProcesses.SpawnError(description: "cannot open a socket to find a free port") }
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
            bind(socket, address, length) == 0 && getsockname(socket, address, &length) == 0
        }
    }
    guard bound else { throw VendorProcesses.SpawnError(description: "cannot bind a loopback socket to find a free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}
