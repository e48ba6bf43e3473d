"""The AXERA engine benchmark: what the runner adds in front of the vendor server, measured through AXSim.

AXSim (Sources/AXSim) plays both vendor server generations with a fixed per-token delay standing in for the
NPU (222 ms: the vendor server's ~4.5 tokens/s on Qwen3-4B) and fixed-length answers (ignore_eos). For each
generation, one AXSim is driven directly and one runs under `runner apply` (engine axllm) with the same model
directory, in alternating order, greedy, the same prompt:

  direct   serve: POST /v1/chat/completions streamed to AXSim itself. legacy: reset, generate, poll every
           10 ms (the engine's interval) until the answer has N pieces, then /api/stop: what a careful client
           of that server does.
  runner   POST /v1/chat/completions streamed to the runner's gateway (gateway, worker, engine, AXSim).

Two phases per generation, each alternating direct and runner: `--rounds` long answers (`--tokens`) give the
decode time (last delta - first delta), and `--first-rounds` two-token answers give the time to the first
content delta. The first token is measured on its own, many times, because it spreads over tens of ms on
either side (the simulated NPU's task start, the prefill on a shared CPU, the 10 ms polling) while the runner's
share is a few ms. Targets: the runner adds <= 5 ms to the first token, and its decode time is within 1 % of
direct (medians; the first token's difference is shown with its bootstrap 95 % interval). For legacy, whose
own time to a first token spreads over ~100 ms, AXSim's timeline (AXSIM_TIMELINE) gives each request's time
inside the server, from generate accepted to first piece queued: the target is judged on the first token
without it, and the server's time is compared between the sides so a runner that slowed the server shows.

Prints a table and one `BENCH_JSON {...}` line. Waits for an idle machine first (`BENCH_IDLE_TIMEOUT`,
default 900 s, 0 measures at once).

Usage: axllm.py RUNNER MODEL_PATH [--rounds N] [--first-rounds N] [--tokens N] [--delay-ms MS] [--keep]
(from bench/, in scripts/env.sh's environment; see docs/development.md)
"""
import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

from bench import print_table, wait_idle
from client import wait_for_gateway
from lifecycle import Processes, copy_runner, validate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "Sources", "AXSim", "bin")
PORTS = {"serve": 18216, "legacy": 18217}
DIRECT_PORT = 18218
SYSTEM = "You are a helpful assistant."
PROMPT = "Tell me about the history of Paris."
LEGACY_ARGS = ["--system_prompt", SYSTEM, "--template_filename_axmodel", "smollm2_p128_l%d_together.axmodel",
               "--axmodel_num", "2", "--filename_post_axmodel", "smollm2_post.axmodel", "--tokenizer_type", "2",
               "--filename_tokens_embed", "model.embed_tokens.weight.bfloat16.bin", "--tokens_embed_num", "49152",
               "--tokens_embed_size", "576"]


def model_directory(path, model_path, delay_ms):
    os.makedirs(path)
    for name in ("smollm2_p128_l0_together.axmodel", "smollm2_p128_l1_together.axmodel", "smollm2_post.axmodel",
                 "model.embed_tokens.weight.bfloat16.bin", "smollm2_tokenizer.txt"):
        with open(os.path.join(path, name), "w") as f:
            f.write("AXSim placeholder\n")
    config = {"model_name": "AXERA-TECH/SmolLM2-135M-Instruct", "tokenizer_type": "SmolLM2",
              "url_tokenizer_model": "smollm2_tokenizer.txt",
              "template_filename_axmodel": "smollm2_p128_l%d_together.axmodel", "axmodel_num": 2,
              "filename_post_axmodel": "smollm2_post.axmodel",
              "filename_tokens_embed": "model.embed_tokens.weight.bfloat16.bin", "tokens_embed_num": 49152,
              "tokens_embed_size": 576,
              "axsim": {"gguf": model_path, "context": 2048, "threads": 1, "token_delay_ms": delay_ms,
                        "ignore_eos": True}}
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f)


def manifest(path, generation, model_dir, legacy_port):
    if generation == "serve":
        server = f"axllm: {{binary: {os.path.join(BIN, 'axllm')}}}"
    else:
        args = ", ".join(json.dumps(a) for a in LEGACY_ARGS)
        server = (f"axllm: {{binary: {os.path.join(BIN, 'main_api_ax650')}, port: {legacy_port}, "
                  f"tokenizer: [{os.path.join(BIN, 'axsim-tokenizer')}], args: [{args}]}}")
    with open(path, "w") as f:
        f.write(f"""apiVersion: rockchipllama/v1
kind: Device
metadata: {{name: bench-axllm-{generation}}}
device: {{soc: generic, clocks: untouched}}
models:
  - name: ax
    engine: axllm
    source: {{path: {model_dir}}}
    context: 2048
    sampling: {{temperature: 0}}
    {server}
endpoints:
  - {{name: local, listen: "127.0.0.1:{PORTS[generation]}", apis: [openai]}}
""")


def chat_stream(port, body):
    """Streamed chat: arrival times of the content deltas (perf_counter), from the request's start."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"content-type": "application/json"})
    response = conn.getresponse()
    if response.status != 200:
        raise SystemExit(f"chat on port {port} answered {response.status}: {response.read()[:300]!r}")
    times = []
    while True:
        line = response.readline()
        if not line or line.startswith(b"data: [DONE]"):
            break
        if line.startswith(b"data: {"):
            for choice in json.loads(line[6:]).get("choices") or []:
                if (choice.get("delta") or {}).get("content"):
                    times.append(time.perf_counter())
    conn.close()
    return start, times


def legacy_call(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, json.dumps(body) if body is not None else None, {"content-type": "application/json"})
    response = conn.getresponse()
    answer = response.status, json.loads(response.read() or b"{}")
    conn.close()
    return answer


def legacy_direct(port, tokens, seconds=120):
    """A careful client of the legacy server: waits out `llm is running`, takes `done` only after text. The
    pauses are the protocol's polling (the engine's 10 ms, and 5 ms retries); `seconds` bounds the whole."""
    deadline = time.monotonic() + seconds

    def pause(interval, what):
        if time.monotonic() > deadline:
            raise SystemExit(f"legacy server on port {port}: no {what} within {seconds} s")
        time.sleep(interval)

    start = time.perf_counter()
    for path, body in (("/api/reset", {"system_prompt": SYSTEM}),
                       ("/api/generate", {"prompt": PROMPT, "temperature": 0, "top-p": 0, "top-k": 1,
                                          "repetition_penalty": 1.001})):
        while legacy_call(port, "POST", path, body)[0] != 200:
            pause(0.005, f"acceptance of {path}")
    times = []
    while len(times) < tokens:
        _, poll = legacy_call(port, "GET", "/api/generate_provider")
        if poll.get("response"):
            times.append(time.perf_counter())
        pause(0.01, f"{tokens} pieces of answer")
    legacy_call(port, "GET", "/api/stop")
    while not legacy_call(port, "GET", "/api/generate_provider")[1].get("done"):
        pause(0.01, "stop")
    return start, times


def server_time(path, offset):
    """From AXSim's timeline (AXSIM_TIMELINE), what one legacy request spent inside the server: from its
    generate's acceptance to its first piece of answer (the reset's and the turn's prefill, the simulated task
    start and first token), in ms."""
    with open(path) as f:
        f.seek(offset)
        events = [json.loads(line) for line in f if line.strip()]
    times = {}
    for event in events:
        times.setdefault(event["event"], event["time"])
    if "generate" not in times or "first piece" not in times:
        raise SystemExit(f"{path}: no generate and first piece for a request: {events}")
    return (times["first piece"] - times["generate"]) * 1000


def wait_until_answers(port, path, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if legacy_call(port, "GET", path)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"nothing answered {path} on port {port} within {seconds} s")


def measure(runner, model_path, work, rounds, first_rounds, tokens, delay_ms, procs):
    model_dir = os.path.join(work, "smollm2-ax")
    model_directory(model_dir, model_path, delay_ms)
    body = {"model": "ax", "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}],
            "max_tokens": tokens, "temperature": 0, "stream": True, "enable_thinking": True,
            "stream_options": {"include_usage": True}}
    results = {}
    for generation in ("serve", "legacy"):
        legacy_runner_port = DIRECT_PORT + 10
        path = os.path.join(work, f"{generation}.yaml")
        manifest(path, generation, model_dir, legacy_runner_port)
        validate(runner, path)
        timelines = {side: os.path.join(work, f"{generation}-{side}-timeline.jsonl") for side in ("direct", "runner")}
        env = dict(os.environ, AXSIM_LEGACY_PORT=str(legacy_runner_port), AXSIM_TIMELINE=timelines["runner"])
        log = os.path.join(work, f"{generation}-apply.log")
        apply = procs.spawn([runner, "apply", path, "--state-dir", os.path.join(work, f"{generation}-state")], log,
                            env=env)
        direct_log = os.path.join(work, f"{generation}-direct.log")
        if generation == "serve":
            direct = procs.spawn([os.path.join(BIN, "axllm"), "serve", model_dir, "--port", str(DIRECT_PORT)],
                                 direct_log)
        else:
            tokenizer_port = DIRECT_PORT + 1
            procs.spawn([os.path.join(BIN, "axsim-tokenizer"), "--port", str(tokenizer_port), "--model_id", model_dir],
                        os.path.join(work, "tokenizer.log"))
            wait_until_answers(tokenizer_port, "/bos_id")
            direct = procs.spawn([os.path.join(BIN, "main_api_ax650"), *LEGACY_ARGS, "--url_tokenizer_model",
                                  f"http://127.0.0.1:{tokenizer_port}"], direct_log,
                                 env=dict(os.environ, AXSIM_LEGACY_PORT=str(DIRECT_PORT),
                                          AXSIM_TIMELINE=timelines["direct"]), cwd=model_dir)
        try:
            wait_for_gateway(PORTS[generation], apply, log, attempts=3000)
            wait_until_answers(DIRECT_PORT, "/health" if generation == "serve" else "/api/generate_provider")
            # Warm-up of both sides, not counted.
            chat_stream(PORTS[generation], dict(body, max_tokens=2))
            if generation == "serve":
                chat_stream(DIRECT_PORT, dict(body, max_tokens=2))
            else:
                legacy_direct(DIRECT_PORT, 2)
            wait_idle(float(os.environ.get("BENCH_IDLE_TIMEOUT", 900)), f"before the {generation} rounds")

            def alternate(count, answer_tokens):
                sides = {"direct": [], "runner": []}
                for i in range(count):
                    for side in (["direct", "runner"] if i % 2 == 0 else ["runner", "direct"]):
                        seen = os.path.getsize(timelines[side]) if os.path.exists(timelines[side]) else 0
                        if side == "runner":
                            start, times = chat_stream(PORTS[generation], dict(body, max_tokens=answer_tokens))
                        elif generation == "serve":
                            start, times = chat_stream(DIRECT_PORT, dict(body, max_tokens=answer_tokens))
                        else:
                            start, times = legacy_direct(DIRECT_PORT, answer_tokens)
                        run = {"ttft_ms": (times[0] - start) * 1000, "decode_ms": (times[-1] - times[0]) * 1000,
                               "deltas": len(times)}
                        if generation == "legacy" and answer_tokens == 2:
                            run["server_ms"] = server_time(timelines[side], seen)
                        sides[side].append(run)
                return sides

            results[generation] = {"long": alternate(rounds, tokens), "short": alternate(first_rounds, 2)}
        finally:
            procs.stop(apply)
            procs.stop_all()
    return results


def difference(direct, runner, resamples=2000):
    """median(runner) - median(direct), with its bootstrap 95 % interval: how far the sampling noise alone moves it."""
    rng = random.Random(0)
    med = statistics.median
    diffs = sorted(med(rng.choices(runner, k=len(runner))) - med(rng.choices(direct, k=len(direct)))
                   for _ in range(resamples))
    return med(runner) - med(direct), diffs[int(0.025 * resamples)], diffs[int(0.975 * resamples) - 1]


def shown(change):
    return "%+.1f [%+.1f, %+.1f]" % change


def report(results, tokens, delay_ms):
    med = statistics.median
    rows, summary, targets = [], {}, {}
    for generation, phases in results.items():
        long, short = phases["long"], phases["short"]
        first = {side: [r["ttft_ms"] for r in runs] for side, runs in short.items()}
        decode = {side: med(r["decode_ms"] for r in runs) for side, runs in long.items()}
        overhead = (decode["runner"] - decode["direct"]) / decode["direct"]
        whole = difference(first["direct"], first["runner"])
        summary[generation] = {"ttft_ms": {side: med(values) for side, values in first.items()},
                               "ttft_added_whole_ms": whole, "decode_ms": decode, "decode_overhead": overhead}
        n = len(first["direct"])
        rows += [
            (f"{generation}: first token, direct (ms, {n} short answers)", f"{med(first['direct']):.1f}", "", ""),
            (f"{generation}: first token, runner (ms, {n} short answers)", f"{med(first['runner']):.1f}", "", ""),
        ]
        added = whole
        if generation == "legacy":
            # The server's own time spreads over ~100 ms (prefill on a shared CPU, the simulated task start),
            # hiding a few ms of the runner's. Without it, what is left is the client's side: the calls up to
            # generate, the polling and the way back. The server's time is compared too: a runner that made
            # the server slower would show there.
            inside = {side: [r["server_ms"] for r in runs] for side, runs in short.items()}
            slower = difference(inside["direct"], inside["runner"])
            added = difference(*([r["ttft_ms"] - r["server_ms"] for r in short[side]] for side in ("direct", "runner")))
            summary[generation].update({"server_slower_ms": slower})
            rows += [
                (f"{generation}: first token difference, whole (ms)", shown(whole), "", ""),
                (f"{generation}: server's own time, direct (ms)", f"{med(inside['direct']):.1f}", "", ""),
                (f"{generation}: server's own time, runner - direct (ms)", shown(slower), "", ""),
            ]
        summary[generation]["ttft_added_ms"] = added
        targets[generation] = {"ttft": added[0] <= 5, "decode": overhead <= 0.01}
        rows += [
            (f"{generation}: added to the first token (ms)", shown(added), "<= 5",
             "PASS" if targets[generation]["ttft"] else "MISS"),
            (f"{generation}: decode of {tokens - 1} tokens, direct (ms)", f"{decode['direct']:.0f}", "", ""),
            (f"{generation}: decode of {tokens - 1} tokens, runner (ms)", f"{decode['runner']:.0f}", "", ""),
            (f"{generation}: decode overhead", f"{overhead * 100:+.2f} %", "<= 1 %",
             "PASS" if targets[generation]["decode"] else "MISS"),
        ]
    print(f"AXSim at {delay_ms} ms per token ({1000 / delay_ms:.1f} tokens/s), {tokens} tokens per long answer; "
          "[low, high]: the bootstrap 95 % interval of the difference")
    print_table(("measurement", "value", "target", ""), rows)
    print("BENCH_JSON " + json.dumps({"summary": summary, "targets": targets, "runs": results}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runner")
    parser.add_argument("model_path")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--first-rounds", type=int, default=100)
    parser.add_argument("--tokens", type=int, default=24)
    parser.add_argument("--delay-ms", type=int, default=222)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="rl-axllm.")
    procs = Processes()
    failed = True
    try:
        runner = copy_runner(os.path.abspath(args.runner), work)
        results = measure(runner, os.path.abspath(args.model_path), work, args.rounds, args.first_rounds, args.tokens,
                          args.delay_ms, procs)
        report(results, args.tokens, args.delay_ms)
        failed = False
    finally:
        procs.stop_all()
        if args.keep or failed:
            print(f"axllm: files kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
