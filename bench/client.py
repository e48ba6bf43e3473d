"""A stdlib client for the worker's internal API: HTTP/1.1 over a Unix socket, NDJSON streamed in chunks.

http.client does the HTTP (chunked decoding included); only the connect step differs from TCP. Every event is
timestamped on arrival, so the client-side timings are end to end: connect, request, queue, prefill, every
token's chunk, the final `done` event.
"""

import http.client
import json
import socket
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 600):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def wait_for_gateway(port: int, process, log_path: str, attempts: int = 600) -> None:
    """Until `process` (a `runner apply`) answers /readyz on `port`; exits naming its log if it stops first or
    never gets there. Checking the process matters: another server left on the port would answer too."""
    for _ in range(attempts):
        if process.poll() is not None:
            raise SystemExit(f"runner apply exited; see {log_path}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the gateway never became ready; see {log_path}")


def read_chat_stream(response) -> dict:
    """An OpenAI chat completion event stream read to its end: the content, the arrival time of the first
    content delta (perf_counter), whether a chunk carried a finish_reason, whether `data: [DONE]` ended the
    stream, and the first error a chunk carried (JSON text) or None."""
    text, first, finished, done, error = [], None, False, False, None
    while True:
        line = response.readline()
        if not line:
            break
        if line.startswith(b"data: [DONE]"):
            done = True
            break
        if not line.startswith(b"data: {"):
            continue
        chunk = json.loads(line[6:])
        if "error" in chunk:
            error = error or json.dumps(chunk["error"])
            continue
        for choice in chunk.get("choices") or []:
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                first = first or time.perf_counter()
                text.append(piece)
            finished = finished or bool(choice.get("finish_reason"))
    return {"text": "".join(text), "first": first, "finished": finished, "done": done, "error": error}


def health(path: str, timeout: float = 2) -> dict:
    conn = UnixHTTPConnection(path, timeout=timeout)
    try:
        conn.request("GET", "/v1/health")
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"/v1/health answered {response.status}: {body[:200]!r}")
        return json.loads(body)
    finally:
        conn.close()


def generate(path: str, body: dict, start: float | None = None) -> dict:
    """POST /v1/generate and read the stream to the end.

    `start` lets concurrent callers share one clock origin; by default the clock starts here, before the
    connection is opened, so connecting counts as part of the request.
    """
    start = time.perf_counter() if start is None else start
    conn = UnixHTTPConnection(path)
    try:
        data = json.dumps(body).encode()
        conn.request("POST", "/v1/generate", body=data, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"/v1/generate answered {response.status}: {response.read()[:500]!r}")
        first = None
        arrivals = []  # arrival time of every text event, for the per-token gap statistics
        text = []
        done = None
        while True:
            line = response.readline()
            if not line:
                break
            now = time.perf_counter()
            event = json.loads(line)
            if event["type"] == "text":
                if first is None:
                    first = now
                arrivals.append(now)
                text.append(event["text"])
            elif event["type"] == "done":
                done = event["done"]
                end = now
                break
        if done is None:
            raise RuntimeError("the stream ended without a done event")
        if done.get("reason") == "error":
            raise RuntimeError(f"the worker reported an error: {done.get('error')}")
    finally:
        conn.close()
    usage = done["usage"]
    gaps = [(b - a) * 1000 for a, b in zip(arrivals, arrivals[1:])]
    return {
        "start": start,
        "end": end,
        "seconds": end - start,
        "ttft_ms": ((first or end) - start) * 1000,
        "prompt_tokens": usage["promptTokens"],
        "completion_tokens": usage["completionTokens"],
        "cached_prompt_tokens": usage.get("cachedPromptTokens", 0),
        "reason": done["reason"],
        "timings": done.get("timings", {}),
        "text_events": len(arrivals),
        "gaps_ms": gaps,
        "tokens_per_s": usage["completionTokens"] / (end - start),
        "text": "".join(text),
    }
