import Foundation

/// Python scripts that play a worker on its Unix socket (`GET /v1/health`), so the supervisor and the live
/// deployment can be tested without a model.
enum StandInWorker {
    static let python = "/usr/bin/python3"

    /// Answers every health check until killed.
    static let healthy = #"""
        import os, signal, socket, sys
        # The test process may ignore SIGTERM (a service group's signal handling), and children inherit that.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
        path = sys.argv[1]
        if os.path.exists(path): os.remove(path)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(8)
        body = b'{"status":"ok","model":"stand-in","pid":%d}' % os.getpid()
        while True:
            connection, _ = server.accept()
            # The supervisor first connects and hangs up to see whether the socket is there: nothing to answer.
            if connection.recv(4096):
                connection.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body)
            connection.close()
        """#

    /// Answers one health check, then says so and exits 1 after a moment: a worker that crashes soon after
    /// loading.
    static let flaky = #"""
        import os, socket, sys, time
        path = sys.argv[1]
        if os.path.exists(path): os.remove(path)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(8)
        while True:
            connection, _ = server.accept()
            if connection.recv(4096): break
            connection.close()
        body = b'{"status":"ok","model":"flaky","pid":%d}' % os.getpid()
        connection.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body)
        connection.close()
        time.sleep(0.2)
        print("flaky: exiting", flush=True)
        sys.exit(1)
        """#

    /// Writes the script into `directory` and returns its path.
    static func install(_ script: String, named name: String, in directory: URL) throws -> String {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try script.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }
}
