"""The gateway benchmark: what the gateway adds on top of the worker it routes to.

Starts `runner apply` on a one-model manifest with an OpenAI endpoint, then alternates the same raw-prompt
generation through the worker's Unix socket (POST /v1/generate) and through the gateway over TCP
(POST /v1/completions, SSE), so both see the same machine state:
  - time to first token, many short requests: gateway-added = median(gateway) - median(worker); target <= 1 ms
    (a new connection per request on both sides; then again with each side's connection kept open);
  - streaming tokens/s with 128-token answers: target gateway >= 0.99 x worker. With 2 threads, the same
    libllama driven directly (bench/direct.py, the worker benchmark's baseline) runs in the same rounds, for the
    end-to-end budget: gateway + worker >= 0.95 x libllama directly.

Both are measured twice, with llama.cpp on every core of the 2-core development machine (threads: 2), where
every microsecond the gateway and the client spend is taken from inference, and with a core left free
(threads: 1), as on a board whose model runs on some of its cores or on its NPU.

Usage: gateway.py RUNNER MODEL_PATH [THREADS,...]   (default 2,1; bench/run.sh's environment: RUNNER_LLAMA_LIBRARY set)
"""
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from bench import Baseline
from client import UnixHTTPConnection, wait_for_gateway

PORT = 18211
TTFT_PAIRS = 300
RATE_ROUNDS = 50
PROMPT = "Once upon a time, in a small village by the sea, there lived"


def worker_request(socket_path, max_tokens, conn=None):
    """One generation; with `conn`, on that kept-open connection (as clients with a connection pool do)."""
    start = time.perf_counter()
    keep = conn is not None
    conn = conn or UnixHTTPConnection(socket_path)
    body = json.dumps({"prompt": PROMPT, "maxTokens": max_tokens, "sampling": {"temperature": 0}})
    conn.request("POST", "/v1/generate", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    first, tokens = None, 0
    for line in response:
        event = json.loads(line)
        if event["type"] == "text" and first is None:
            first = time.perf_counter() - start
        if event["type"] == "done":
            tokens = event["done"]["usage"]["completionTokens"]
    if not keep:
        conn.close()
    return first, tokens, time.perf_counter() - start


def gateway_request(max_tokens, conn=None):
    start = time.perf_counter()
    keep = conn is not None
    conn = conn or http.client.HTTPConnection("127.0.0.1", PORT, timeout=600)
    body = json.dumps({"model": "bench", "prompt": PROMPT, "max_tokens": max_tokens, "temperature": 0, "stream": True,
                       "stream_options": {"include_usage": True}})
    conn.request("POST", "/v1/completions", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    first, tokens = None, 0
    for line in response:
        if not line.startswith(b"data: {"):
            continue
        chunk = json.loads(line[6:])
        if chunk.get("choices") and chunk["choices"][0].get("text") and first is None:
            first = time.perf_counter() - start
        if chunk.get("usage"):
            tokens = chunk["usage"]["completion_tokens"]
    if not keep:
        conn.close()
    return first, tokens, time.perf_counter() - start


def measure(runner, model, threads):
    """One configuration: its own `runner apply`, the TTFT pairs, the kept-open pairs, the streaming rounds."""
    directory = tempfile.mkdtemp(prefix="rl-gateway-bench.")
    manifest = os.path.join(directory, "bench.yaml")
    with open(manifest, "w") as f:
        f.write(f"""apiVersion: rockchipllama/v1
kind: Device
metadata: {{name: gateway-bench}}
models:
  - name: bench
    source: {{path: "{model}"}}
    context: 4096
    llamacpp: {{threads: {threads}, parallel: 4}}
endpoints:
  - {{name: bench, listen: "127.0.0.1:{PORT}", apis: [openai]}}
""")
    state = os.path.join(directory, "state")
    log = open(os.path.join(directory, "apply.log"), "w")
    apply = subprocess.Popen([runner, "apply", manifest, "--state-dir", state], stdout=log, stderr=log)
    try:
        socket_path = os.path.join(state, "workers", "bench.sock")
        wait_for_gateway(PORT, apply, os.path.join(directory, "apply.log"))
        worker_request(socket_path, 4), gateway_request(4)  # warm both paths
        # Alternating pairs, many of them: the machine's own drift over seconds is larger than the difference.
        ttft_worker, ttft_gateway = [], []
        for _ in range(TTFT_PAIRS):
            ttft_worker.append(worker_request(socket_path, 1)[0] * 1000)
            ttft_gateway.append(gateway_request(1)[0] * 1000)
        # The same with each side's connection kept open between requests, as the official clients' pools do.
        kept_worker, kept_gateway = [], []
        worker_conn, gateway_conn = UnixHTTPConnection(socket_path), http.client.HTTPConnection("127.0.0.1", PORT)
        for _ in range(TTFT_PAIRS):
            kept_worker.append(worker_request(socket_path, 1, worker_conn)[0] * 1000)
            kept_gateway.append(gateway_request(1, gateway_conn)[0] * 1000)
        worker_conn.close()
        gateway_conn.close()
        # direct.py runs llama.cpp with 2 threads, so it is only comparable with that configuration.
        baseline = Baseline(model) if threads == 2 else None
        rate_worker, rate_gateway, rate_direct = [], [], []
        for _ in range(RATE_ROUNDS):
            _, tokens, elapsed = worker_request(socket_path, 128)
            rate_worker.append(tokens / elapsed)
            _, tokens, elapsed = gateway_request(128)
            rate_gateway.append(tokens / elapsed)
            if baseline:
                rate_direct.append(baseline.ask(op="generate", prompt=PROMPT, max_tokens=128)["tokens_per_s"])
        if baseline:
            baseline.close()
    finally:
        apply.send_signal(signal.SIGTERM)
        apply.wait(timeout=60)
    median = statistics.median
    return {"threads": threads, "ttft_worker_ms": ttft_worker, "ttft_gateway_ms": ttft_gateway,
            "added_ms": median(ttft_gateway) - median(ttft_worker),
            "paired_added_ms": median(g - w for g, w in zip(ttft_gateway, ttft_worker)),
            "kept_worker_ms": kept_worker, "kept_gateway_ms": kept_gateway,
            "kept_added_ms": median(kept_gateway) - median(kept_worker),
            "rate_worker": rate_worker, "rate_gateway": rate_gateway,
            "ratio": median(rate_gateway) / median(rate_worker),
            "paired_ratio": median(g / w for g, w in zip(rate_gateway, rate_worker)),
            "rate_direct": rate_direct,
            "end_to_end_ratio": median(rate_gateway) / median(rate_direct) if rate_direct else None}


def report(r):
    median = statistics.median
    print(f"== llama.cpp threads: {r['threads']}")
    print(f"time to first token, worker socket  p50 {median(r['ttft_worker_ms']):7.2f} ms")
    print(f"time to first token, gateway        p50 {median(r['ttft_gateway_ms']):7.2f} ms")
    added = r["added_ms"]
    print(f"gateway-added time to first token   p50 {added:7.2f} ms   target <= 1 ms   {'PASS' if added <= 1 else 'MISS'}")
    print(f"  (median of the {TTFT_PAIRS} paired differences: {r['paired_added_ms']:.2f} ms)")
    print(f"  with kept-open connections: worker {median(r['kept_worker_ms']):.2f} ms, gateway "
          f"{median(r['kept_gateway_ms']):.2f} ms, added {r['kept_added_ms']:.2f} ms")
    print(f"streaming, worker socket  {median(r['rate_worker']):6.1f} tok/s  {[round(x, 1) for x in r['rate_worker']]}")
    print(f"streaming, gateway        {median(r['rate_gateway']):6.1f} tok/s  {[round(x, 1) for x in r['rate_gateway']]}")
    ratio = r["ratio"]
    print(f"gateway / worker          {ratio:6.3f}x   target >= 0.99x   {'PASS' if ratio >= 0.99 else 'MISS'}")
    print(f"  (median of the {RATE_ROUNDS} paired ratios: {r['paired_ratio']:.3f}x)")
    if r["rate_direct"]:
        e2e = r["end_to_end_ratio"]
        print(f"libllama directly         {median(r['rate_direct']):6.1f} tok/s  {[round(x, 1) for x in r['rate_direct']]}")
        print(f"gateway / libllama        {e2e:6.3f}x   budget >= 0.95x   {'PASS' if e2e >= 0.95 else 'MISS'}")


def main():
    runner, model = sys.argv[1], sys.argv[2]
    configurations = [int(n) for n in (sys.argv[3] if len(sys.argv) > 3 else "2,1").split(",")]
    results = []
    for threads in configurations:
        results.append(measure(runner, model, threads))
        report(results[-1])
    print("GATEWAY_JSON " + json.dumps(results))


if __name__ == "__main__":
    main()
