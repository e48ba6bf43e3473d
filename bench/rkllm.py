"""The rkllm benchmark: what the runner costs on the rkllm path, through RKLLMSim with a fixed per-token delay
standing in for the NPU (30 ms ≈ 33 tokens/s, Rockchip's figure for Qwen3-0.6B on RK3588).

Alternates, on the same prompt and greedy settings:
  - the simulator's own rate: bench/rkllm_direct.c driving librkllmrt.so directly, a callback that only
    records token times;
  - the rate a client sees through the gateway: `runner apply` on an rkllm manifest, OpenAI chat completions
    streamed over TCP, token arrival times taken from the SSE chunks.
Rate = (tokens - 1) / (last token - first token). Target: gateway >= 0.99 x direct. The delay comes on top
of the simulator's own CPU time per token (~16 ms for SmolLM2 on one thread here), so 14 ms gives ~33 tokens/s.

Usage: rkllm.py RUNNER MODEL_PATH SIM_LIBRARY [DELAY_MS]   (run from bench/, see docs/development.md)
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

from client import wait_for_gateway

PORT = 18212
MAX_TOKENS = 192
ROUNDS = 7
PROMPT = "Write a long story about a robot who learns to paint, with many details."


def direct(binary, library, model):
    out = subprocess.run([binary, library, model, str(MAX_TOKENS), PROMPT], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout)
    return r["tokens"], (r["tokens"] - 1) / ((r["last_ms"] - r["first_ms"]) / 1000)


def through_gateway():
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=600)
    body = json.dumps({"model": "npu", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": MAX_TOKENS,
                       "temperature": 0, "stream": True})
    conn.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
    times = []
    for line in conn.getresponse():
        if line.startswith(b"data: {"):
            chunk = json.loads(line[6:])
            if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                times.append(time.perf_counter())
    conn.close()
    return len(times), (len(times) - 1) / (times[-1] - times[0])


def main():
    runner, model, library = (os.path.abspath(p) for p in sys.argv[1:4])
    delay = sys.argv[4] if len(sys.argv) > 4 else "30"
    here = os.path.dirname(os.path.abspath(__file__))
    work = tempfile.mkdtemp(prefix="rkllm-bench-", dir=os.environ.get("TMPDIR"))
    binary = os.path.join(work, "rkllm_direct")
    subprocess.run(["cc", "-O2", "-std=c11", "-I", os.path.join(here, "../Sources/CRKLLM"), "-o", binary,
                    os.path.join(here, "rkllm_direct.c"), "-ldl"], check=True)
    manifest = os.path.join(work, "sim.yaml")
    with open(manifest, "w") as f:
        f.write(f"""apiVersion: rockchipllama/v1
kind: Device
metadata: {{name: rkllm-bench}}
runtimes: {{rkllm: {{library: {library}}}}}
models:
  - {{name: npu, engine: rkllm, source: {{path: {model}}}, context: 1024, sampling: {{temperature: 0}}}}
endpoints:
  - {{name: bench, listen: "127.0.0.1:{PORT}", apis: [openai]}}
""")
    env = dict(os.environ, RKLLMSIM_TOKEN_DELAY_MS=delay, RKLLMSIM_THREADS="1")
    os.environ.update(RKLLMSIM_TOKEN_DELAY_MS=delay, RKLLMSIM_THREADS="1")
    apply = subprocess.Popen([runner, "apply", manifest, "--state-dir", os.path.join(work, "state")], env=env,
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "apply.log"), "w"))
    try:
        wait_for_gateway(PORT, apply, os.path.join(work, "apply.log"))
        through_gateway()  # warm-up: first run loads pages and caches
        direct(binary, library, model)
        rows = []
        for _ in range(ROUNDS):
            rows.append((direct(binary, library, model), through_gateway()))
        d = statistics.median(r[0][1] for r in rows)
        g = statistics.median(r[1][1] for r in rows)
        print(f"delay {delay} ms/token, {ROUNDS} paired rounds, {MAX_TOKENS}-token answers")
        for (dt, dr), (gt, gr) in rows:
            print(f"  direct {dr:6.2f} tok/s ({dt} tokens)   gateway {gr:6.2f} tok/s ({gt} tokens)")
        paired = statistics.median(r[1][1] / r[0][1] for r in rows)
        print(f"median: direct {d:.2f} tok/s, gateway {g:.2f} tok/s, ratio {g / d:.4f}; "
              f"median of paired ratios {paired:.4f} (target >= 0.99)")
    finally:
        apply.send_signal(signal.SIGTERM)
        apply.wait(timeout=60)


if __name__ == "__main__":
    main()
