"""Logging, the HTTP server base and the request-handler helpers shared by the three servers.

Everything here is standard library. The servers are `ThreadingHTTPServer`s (one thread per connection,
HTTP/1.1 keep-alive) that run in a background thread while the main thread waits for SIGTERM/SIGINT, so a
signal can shut the listener down cleanly (calling `shutdown()` from the thread running `serve_forever()`
would deadlock).
"""

import json
import os
import select
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_log_lock = threading.Lock()


def log(level, tag, message):
    """Write one vendor-style line to stderr: `[I][          serve][16:01:02.345]: message`.

    The vendor's ALOG macros print `[level][function][line]: text`; the simulator puts a wall-clock time
    where the line number goes, which is more useful to a test that orders events across servers.
    """
    now = time.time()
    stamp = time.strftime("%H:%M:%S", time.localtime(now)) + ".%03d" % int((now % 1) * 1000)
    line = "[%s][%16s][%s]: %s\n" % (level, tag, stamp, message)
    with _log_lock:
        sys.stderr.write(line)
        sys.stderr.flush()


_timeline_path = os.environ.get("AXSIM_TIMELINE")


def timeline(event):
    """Append `{"event", "time"}` (wall clock, s) to $AXSIM_TIMELINE, when set: a benchmark tells what the
    server spent inside from what its client spent around it. Simulator-only; the vendor has nothing like it."""
    if not _timeline_path:
        return
    line = json.dumps({"event": event, "time": time.time()}) + "\n"
    with _log_lock, open(_timeline_path, "a") as f:
        f.write(line)


def say(text):
    """Print a line on stdout, flushed: the vendor binaries print their banners with printf."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def die(message, status=1):
    """Report a start-up failure the way the vendor binaries do (stderr, non-zero exit) and exit."""
    log("E", "AXSim", message)
    sys.exit(status)


def json_bytes(obj):
    """Compact UTF-8 JSON, non-ASCII text kept as is (as nlohmann::json dumps it)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Server(ThreadingHTTPServer):
    """A threading HTTP server whose socket is bound early and listens late.

    `bind()` reserves the port before the (slow) model load, so a port conflict fails fast; `listen()`
    opens it only when the model is ready, so a client never connects to a half-initialised server.
    """

    daemon_threads = True  # a handler blocked in a long generation must not keep the process alive
    allow_reuse_address = True  # Linux SO_REUSEADDR still refuses a port another socket listens on

    def __init__(self, host, port, handler_class, app):
        super().__init__((host, port), handler_class, bind_and_activate=False)
        self.app = app  # the object the handlers talk to (LegacyApp, ServeApp, TokenizerApp)

    def bind(self):
        try:
            self.server_bind()
        except OSError as error:
            self.server_close()
            raise OSError("cannot bind %s:%d: %s" % (self.server_address[0], self.server_address[1],
                                                     error.strerror or error)) from None

    def listen(self):
        self.server_activate()


def serve_until_signal(server, on_stop=None):
    """Serve in a background thread until SIGTERM or SIGINT, then stop cleanly and exit 0.

    `on_stop` runs first (e.g. to cancel a generation). The process then leaves with `os._exit`: handler
    threads may still sit inside llama.cpp, and tearing the interpreter down under them can crash.
    """
    stop = threading.Event()

    def handle(signum, _frame):
        log("I", "AXSim", "received %s, stopping" % signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    while not stop.wait(0.5):
        if not thread.is_alive():
            break
    if on_stop is not None:
        on_stop()
    server.shutdown()
    server.server_close()
    log("I", "AXSim", "server stopped")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class BadBody(Exception):
    """The request body is not the JSON object a route expects."""


class Handler(BaseHTTPRequestHandler):
    """Common request plumbing: JSON bodies, JSON answers, chunked streaming, peer-close detection."""

    protocol_version = "HTTP/1.1"
    server_version = "AXSim"
    log_tag = "http"
    extra_headers = ()  # (name, value) pairs added to every answer (the legacy server's CORS header)

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        """Silence http.server's own access log; each server logs its requests in vendor style."""

    def log_request_line(self):
        log("I", self.log_tag, "%s %s from %s" % (self.command, self.path, self.client_address[0]))

    @property
    def route(self):
        """The path without its query string."""
        return self.path.split("?", 1)[0]

    def read_body(self):
        """The request body, sent with a Content-Length or chunked (cpp-httplib accepts both)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BadBody("bad Content-Length") from None
        return self.rfile.read(length) if length > 0 else b""

    def discard_body(self):
        """Read and drop a body nobody wants, so the next request on the connection parses."""
        try:
            self.read_body()
        except BadBody:
            self.close_connection = True

    def _read_chunked(self):
        parts = []
        while True:
            try:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            except ValueError:
                raise BadBody("bad chunk size") from None
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def read_json(self):
        """The body as a JSON object, or BadBody."""
        raw = self.read_body()
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise BadBody("body is not JSON") from None
        if not isinstance(body, dict):
            raise BadBody("body is not a JSON object")
        return body

    def send_bytes(self, status, data, content_type="application/json", headers=()):
        self.send_response(status)
        for name, value in tuple(self.extra_headers) + tuple(headers):
            self.send_header(name, value)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def send_json(self, status, obj, headers=()):
        self.send_bytes(status, json_bytes(obj), headers=headers)

    def start_chunked(self, status, content_type, headers=()):
        """Send the headers of a `Transfer-Encoding: chunked` answer (how cpp-httplib streams)."""
        self.send_response(status)
        for name, value in tuple(self.extra_headers) + tuple(headers):
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def write_chunk(self, data):
        """Write one HTTP chunk; False when the client has gone (the write failed or it closed)."""
        if not data:
            return True
        if self.peer_closed():
            return False
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            return False
        return True

    def end_chunked(self):
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def peer_closed(self):
        """True when the client has closed its end (EOF is readable) or reset the connection.

        A write into a socket whose peer has just closed usually still succeeds (the data lands in the
        send buffer), so waiting for a failed write would let one more token through. Peeking for EOF
        notices the close before the next token is generated.
        """
        sock = self.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True
