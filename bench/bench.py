#!/usr/bin/env python3
"""RockchipLlama's worker benchmark: the worker against the same libllama driven directly.

bench/run.sh drives this script one phase at a time (it owns the worker processes); each phase writes one
JSON file into the results directory and `report` turns them into the table. Phases:

  inputs  write the system prompt file and the two manifests the workers use
  idle    wait until no other process uses the CPU (bounded; the report shows the load anyway)
  memory  RSS of llama.cpp alone with the worker's context shape (how much of the worker's RSS is llama.cpp)
  wait    wait until a worker answers /v1/health (clear error and log tail if it never does)
  stream  one worker plus the direct baseline (bench/direct.py, a child process), interleaved run by run:
          baseline 1 stream, worker 1 stream, worker 4 concurrent streams; then the direct long-prompt TTFTs
  prefix  a fresh worker: cold TTFT of the long system prompt, then warm TTFT (prefix reuse)
  preset  a fresh worker whose manifest declares the system prompt as a preset: first-request TTFT
  report  the table and one `BENCH_JSON {...}` line

Every figure is a median over repetitions. Tokens/s is end to end: completion tokens / wall time from the
request's start (before tokenizing, or before connecting) to its last token, prefill included.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import client  # noqa: E402
import prompts  # noqa: E402

MAX_TOKENS = 128
STREAM_REPS = len(prompts.SINGLE)  # 9: the 1-stream ratio is judged within a few percent on a noisy machine
LONG_REPS = 3  # fresh workers for the cold / preset TTFT
GREEDY = {"temperature": 0}
# Other processes using more than this many cores during a measurement make it suspect: on 2 cores, llama.cpp's
# threads lose whole time slices to them (its threads spin at barriers). Such a run is discarded and redone.
DISTURBED = 0.1
ATTEMPTS = 3  # per repetition, before a disturbed run is kept (and flagged in the report)
# Exit status of a phase whose measurement was disturbed: run.sh restarts the phase with a fresh worker.
EXIT_DISTURBED = 75
# The long-prompt requests only need the first token; a few more show the answer is sane.
TTFT_MAX_TOKENS = 8
MODEL_NAME = "bench"


def print_table(headers, rows):
    """Left-aligned columns as wide as their widest cell, under a rule; a blank line before."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join("{:<%d}" % w for w in widths)
    print()
    print(line.format(*headers).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row).rstrip())


# ---------------------------------------------------------------------------------------------------------
# Process and machine measurements


def rss_mb(pid="self") -> dict:
    """VmRSS (now) and VmHWM (peak) of a process, in MB."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024  # kB -> MB
    return {"rss_mb": round(values["VmRSS"], 1), "hwm_mb": round(values["VmHWM"], 1)}


def cpu_ns(pid="self") -> int:
    """CPU time of all threads of a process, in ns (per-thread schedstat; /proc/PID/stat counts 10 ms ticks)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that just ended
    return total


def _system_busy_ticks() -> int:
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    return user + nice + system + irq + softirq + steal


def _process_ticks(pid) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, all threads


class CpuMeter:
    """CPU used during a phase by everything except the benchmark's own processes, in cores. Another job on
    the machine (a build, another benchmark) shows up here and makes the numbers suspect."""

    def __init__(self, *pids):
        self.pids = ["self", *pids]
        self.t0 = time.monotonic()
        self.busy0 = _system_busy_ticks()
        self.own0 = sum(_process_ticks(p) for p in self.pids)
        self.load0 = os.getloadavg()[0]

    def result(self) -> dict:
        hz = os.sysconf("SC_CLK_TCK")
        elapsed = time.monotonic() - self.t0
        busy = _system_busy_ticks() - self.busy0
        own = sum(_process_ticks(p) for p in self.pids) - self.own0
        return {
            "seconds": round(elapsed, 1),
            "own_cpu_cores": round(own / hz / elapsed, 2),
            "foreign_cpu_cores": round(max(0, busy - own) / hz / elapsed, 2),
            "loadavg_start": round(self.load0, 2),
            "loadavg_end": round(os.getloadavg()[0], 2),
        }


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1)


# ---------------------------------------------------------------------------------------------------------
# Phases: setup


def cmd_inputs(args):
    os.makedirs(args.dir, exist_ok=True)
    system_file = os.path.join(args.dir, "system.txt")
    with open(system_file, "w") as f:
        f.write(prompts.system_prompt())  # no trailing newline: the preset must equal the request's text

    # Only what the benchmark needs: no sampling defaults, so temperature 0 is plain greedy on both sides.
    # YAML accepts JSON strings, so json.dumps quotes the paths safely.
    def manifest(preset: bool) -> str:
        lines = [
            "apiVersion: rockchipllama/v1",
            "kind: Device",
            "metadata: {name: bench}",
            "device: {soc: generic, clocks: untouched}",
            "models:",
            f"  - name: {MODEL_NAME}",
            f"    source: {{path: {json.dumps(args.model)}}}",
            "    context: 4096",
            "    llamacpp: {threads: 2, parallel: 4}",
        ]
        if preset:
            lines += ["    promptCaches:", f"      - {{name: handbook, file: {json.dumps(system_file)}}}"]
        return "\n".join(lines) + "\n"

    for name, preset in (("bench.yaml", False), ("preset.yaml", True)):
        with open(os.path.join(args.dir, name), "w") as f:
            f.write(manifest(preset))


def wait_idle(timeout, label):
    """Wait until nothing else uses the CPU (2 cores: any other job distorts every number), polling every 30 s.
    Gives up after `timeout` seconds and lets the run go on; the report's load figures then show it."""
    deadline = time.monotonic() + timeout
    while True:
        meter = CpuMeter()
        time.sleep(3)
        foreign = meter.result()["foreign_cpu_cores"]
        if foreign <= DISTURBED:
            return
        if time.monotonic() >= deadline:
            print(f"bench: warning: the machine is still busy ({foreign} cores used by others); measuring anyway",
                  file=sys.stderr)
            return
        busy = subprocess.run(["ps", "-eo", "pid,pcpu,etime,comm", "--sort=-pcpu"], capture_output=True,
                              text=True).stdout.splitlines()[1:4]
        print(f"bench: {label}: machine busy ({foreign} cores used by others), waiting 30 s; top: "
              + "; ".join(" ".join(b.split()) for b in busy), file=sys.stderr)
        time.sleep(27)


def cmd_idle(args):
    wait_idle(args.timeout, args.label)


def cmd_memory(args):
    """llama.cpp's own memory with the worker's context shape: 4 slots × 4096 tokens, separate KV streams."""
    from direct import Direct  # imported here so the first RSS is the bare interpreter's

    imported = rss_mb()
    direct = Direct(args.model, n_ctx=4 * 4096, n_seq_max=4, kv_unified=False)
    direct.generate(prompts.WARMUP, 16)  # touch the compute buffers as a real request does
    loaded = rss_mb()
    write_json(args.out, {"imported": imported, "loaded": loaded,
                          "llama_mb": round(loaded["rss_mb"] - imported["rss_mb"], 1)})


def cmd_wait(args):
    deadline = time.monotonic() + args.timeout
    last_error = "the socket never appeared"
    while time.monotonic() < deadline:
        if not _alive(args.pid):
            _fail_with_log(f"the worker (pid {args.pid}) exited before it was ready", args.log)
        if os.path.exists(args.socket):
            try:
                client.health(args.socket)
                return
            except Exception as e:  # not listening yet, or answering an error
                last_error = f"{type(e).__name__}: {e}"
        time.sleep(0.1)
    _fail_with_log(f"the worker did not answer {args.socket} within {args.timeout:g} s ({last_error})", args.log)


def _alive(pid) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _fail_with_log(message, log):
    print(f"bench: error: {message}", file=sys.stderr)
    try:
        with open(log, errors="replace") as f:
            tail = f.readlines()[-30:]
        print(f"--- last lines of {log} ---", file=sys.stderr)
        sys.stderr.writelines(tail)
    except OSError:
        pass
    sys.exit(1)


# ---------------------------------------------------------------------------------------------------------
# Phases: measurements


class Baseline:
    """bench/direct.py in a child process, driven one JSON line at a time."""

    def __init__(self, model):
        self.process = subprocess.Popen([sys.executable, os.path.join(HERE, "direct.py"), model],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        hello = self._read()
        self.pid = hello["pid"]
        self.rss_imported = hello["rss_imported"]

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the baseline process ended (exit status {self.process.wait()})")
        return json.loads(line)

    def ask(self, **command):
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def _request(prompt=None, messages=None, max_tokens=MAX_TOKENS):
    body = {"maxTokens": max_tokens, "sampling": GREEDY}
    if prompt is not None:
        body["prompt"] = prompt
    else:
        body["messages"] = messages
    return body


def _slim(r):
    """Per-token gaps are summarised, not stored; the text is dropped."""
    gaps = sorted(r.pop("gaps_ms"))
    r.pop("text")
    if gaps:
        r["gap_ms"] = {"median": round(statistics.median(gaps), 2), "p90": round(gaps[int(0.9 * (len(gaps) - 1))], 2),
                       "max": round(gaps[-1], 2)}
    return r


def _single(socket_path, prompt, worker_pid):
    """One worker stream, with the CPU the worker and this client burned for it (client overhead shows here)."""
    worker0, client0 = cpu_ns(worker_pid), cpu_ns()
    r = _slim(client.generate(socket_path, _request(prompt=prompt)))
    r["worker_cpu_ms"] = (cpu_ns(worker_pid) - worker0) / 1e6
    r["client_cpu_ms"] = (cpu_ns() - client0) / 1e6
    return r


def _concurrent(socket_path, prompt_list, max_tokens=MAX_TOKENS):
    """All requests released together; aggregate = all completion tokens / (last end - first start)."""
    results = [None] * len(prompt_list)
    errors = []
    barrier = threading.Barrier(len(prompt_list))

    def run(i):
        try:
            barrier.wait()
            results[i] = _slim(client.generate(socket_path, _request(prompt=prompt_list[i], max_tokens=max_tokens)))
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(prompt_list))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    start = min(r["start"] for r in results)
    end = max(r["end"] for r in results)
    tokens = sum(r["completion_tokens"] for r in results)
    return {"seconds": end - start, "completion_tokens": tokens, "tokens_per_s": tokens / (end - start),
            "streams": results}


def _long_messages(question):
    return [{"role": "system", "text": prompts.system_prompt()}, {"role": "user", "text": question}]


def cmd_stream(args):
    baseline = Baseline(args.model)
    meter = CpuMeter(args.pid, baseline.pid)
    client.generate(args.socket, _request(prompt=prompts.WARMUP))  # the baseline warmed up when it started
    base, single, concurrent, discarded = [], [], [], []
    for rep in range(STREAM_REPS):
        for attempt in range(ATTEMPTS):
            # Interleaved, and the order rotates each repetition, so slow drift of a shared machine (other VMs,
            # clocks) spreads over all three instead of favouring whichever ran first.
            got = {}
            steps = [
                lambda: got.update(base=baseline.ask(op="generate", prompt=prompts.SINGLE[rep], max_tokens=MAX_TOKENS)),
                lambda: got.update(single=_single(args.socket, prompts.SINGLE[rep], args.pid)),
                lambda: got.update(concurrent=_concurrent(args.socket, prompts.CONCURRENT[rep])),
            ]
            rep_meter = CpuMeter(args.pid, baseline.pid)
            for step in steps[rep % 3:] + steps[: rep % 3]:
                step()
            foreign = rep_meter.result()["foreign_cpu_cores"]
            if foreign <= DISTURBED or attempt == ATTEMPTS - 1:
                break
            discarded.append({"rep": rep + 1, "foreign_cpu_cores": foreign})
            wait_idle(900, f"repetition {rep + 1} was disturbed ({foreign} cores used by others)")
            # The worker's slots still hold these prompts, and a redo would reuse them instead of prefilling:
            # four unrelated requests at once take all four slots and replace their histories.
            _concurrent(args.socket, [f"Flush {i}. {prompts.WARMUP}" for i in range(4)], max_tokens=1)
        base.append(got["base"])
        single.append(got["single"])
        concurrent.append(got["concurrent"])
    # What the worker's long-prompt TTFTs (other phases, fresh workers) compare against: the same texts driven
    # directly, cold from an empty cache and warm with the system prompt's tokens kept.
    direct_long = [baseline.ask(op="long", cold=_long_messages(prompts.QUESTIONS[0]),
                                warm=[_long_messages(q) for q in prompts.QUESTIONS[1:]])
                   for _ in range(LONG_REPS)]
    result = {"baseline": base, "single": single, "concurrent": concurrent, "direct_long": direct_long,
              "discarded": discarded,
              "rss": rss_mb(args.pid), "baseline_rss": rss_mb(baseline.pid),
              "baseline_rss_imported": baseline.rss_imported, "cpu": meter.result()}
    baseline.close()
    write_json(args.out, result)


def cmd_prefix(args):
    meter = CpuMeter(args.pid)
    # Nothing has run on this worker: the whole prompt is prefilled.
    cold = _slim(client.generate(args.socket, _request(messages=_long_messages(prompts.QUESTIONS[0]),
                                                       max_tokens=TTFT_MAX_TOKENS)))
    # Same system prompt, other questions: the slot that holds it reuses the common prefix.
    warm = [_slim(client.generate(args.socket, _request(messages=_long_messages(q), max_tokens=TTFT_MAX_TOKENS)))
            for q in prompts.QUESTIONS[1:]]
    _finish(args, {"cold": cold, "warm": warm, "rss": rss_mb(args.pid), "cpu": meter.result()})


def cmd_preset(args):
    meter = CpuMeter(args.pid)
    first = _slim(client.generate(args.socket, _request(messages=_long_messages(prompts.QUESTIONS[0]),
                                                        max_tokens=TTFT_MAX_TOKENS)))
    _finish(args, {"first": first, "rss": rss_mb(args.pid), "cpu": meter.result()})


def _finish(args, result):
    """Writes the phase's result; a disturbed one exits EXIT_DISTURBED unless it is the last attempt."""
    result["attempt"] = args.attempt
    write_json(args.out, result)
    foreign = result["cpu"]["foreign_cpu_cores"]
    if foreign > DISTURBED and args.attempt < ATTEMPTS:
        print(f"bench: disturbed ({foreign} cores used by others); this phase will be redone", file=sys.stderr)
        sys.exit(EXIT_DISTURBED)


# ---------------------------------------------------------------------------------------------------------
# Report


def _load(directory, name):
    with open(os.path.join(directory, name)) as f:
        return json.load(f)


def _phases(directory, prefix):
    names = sorted(n for n in os.listdir(directory) if n.startswith(prefix) and n.endswith(".json"))
    return [_load(directory, n) for n in names]


def _med(values):
    return statistics.median(list(values))


def summary(values):
    values = list(values)
    return {"median": statistics.median(values), "runs": values}


def cmd_report(args):
    d = args.results
    stream = _load(d, "stream.json")
    prefix = _phases(d, "prefix-")
    preset = _phases(d, "preset-")
    memory = _load(d, "memory.json")
    b, s, c = stream["baseline"], stream["single"], stream["concurrent"]

    base = summary(r["tokens_per_s"] for r in b)
    single = summary(r["tokens_per_s"] for r in s)
    agg = summary(x["tokens_per_s"] for x in c)
    cold = summary(p["cold"]["ttft_ms"] for p in prefix)
    warm = summary(w["ttft_ms"] for p in prefix for w in p["warm"])
    pre = summary(p["first"]["ttft_ms"] for p in preset)
    direct_cold = summary(x["cold"]["ttft_ms"] for x in stream["direct_long"])
    direct_warm = summary(w["ttft_ms"] for x in stream["direct_long"] for w in x["warm"])

    # The ratios the targets are judged on are paired: each worker run against the run next to it in the same
    # repetition (same prompt, same few seconds), then the median. This machine's speed drifts by ±20 % over
    # minutes without any visible load (other VMs on the host), which a ratio of medians takes in full.
    paired_single = summary(w["tokens_per_s"] / x["tokens_per_s"] for w, x in zip(s, b))
    paired_agg = summary(cc["tokens_per_s"] / w["tokens_per_s"] for cc, w in zip(c, s))
    single_ratio = paired_single["median"]
    agg_ratio = paired_agg["median"]
    warm_ratio = warm["median"] / cold["median"]
    preset_ratio = pre["median"] / cold["median"]

    def ok(flag):
        return "PASS" if flag else "MISS"

    def runs(values, digits=1):
        return "[" + ", ".join(f"{v:.{digits}f}" for v in values) + "]"

    rows = [
        ("direct libllama, 1 stream (baseline)", f"{base['median']:.1f} tok/s", runs(base["runs"]), "", "", ""),
        ("worker, 1 stream", f"{single['median']:.1f} tok/s", runs(single["runs"]),
         f"{single_ratio:.3f}× baseline (medians: {single['median'] / base['median']:.3f}×)", "≥ 0.95×",
         ok(single_ratio >= 0.95)),
        ("worker, 4 streams aggregate", f"{agg['median']:.1f} tok/s", runs(agg["runs"]),
         f"{agg_ratio:.3f}× 1 stream (medians: {agg['median'] / single['median']:.3f}×)", "≥ 1.30×",
         ok(agg_ratio >= 1.3)),
        ("long system prompt, cold TTFT", f"{cold['median']:.1f} ms", runs(cold["runs"]), "", "", ""),
        ("long system prompt, warm TTFT (reuse)", f"{warm['median']:.1f} ms", runs(warm["runs"]),
         f"{100 * warm_ratio:.2f} % of cold", "≤ 2 %", ok(warm_ratio <= 0.02)),
        ("long system prompt, preset TTFT", f"{pre['median']:.1f} ms", runs(pre["runs"]),
         f"{100 * preset_ratio:.2f} % of cold", "(≤ 2 %)", ok(preset_ratio <= 0.02)),
        ("  direct libllama, same text, cold TTFT", f"{direct_cold['median']:.1f} ms", runs(direct_cold["runs"]),
         f"worker cold {cold['median'] / direct_cold['median']:.3f}×", "", ""),
        ("  direct libllama, same text, warm TTFT", f"{direct_warm['median']:.1f} ms", runs(direct_warm["runs"]),
         f"{100 * direct_warm['median'] / direct_cold['median']:.2f} % of its cold", "", ""),
    ]
    print_table(("measurement", "median", "runs", "ratio", "target", ""), rows)

    # Details that explain the ratios: token counts, where the time goes, memory, machine load.
    long_tokens = sorted({p["cold"]["prompt_tokens"] for p in prefix})
    print()
    print(f"ratios per repetition (paired; the table shows their median):  worker 1 stream / baseline "
          f"{runs(paired_single['runs'], 3)};  4 streams / 1 stream {runs(paired_agg['runs'], 3)}")
    print("completion tokens  baseline:", [r["completion_tokens"] for r in b],
          " worker 1 stream:", [r["completion_tokens"] for r in s],
          " worker 4 streams:", [[x["completion_tokens"] for x in cc["streams"]] for cc in c])
    print("prompt tokens      1 stream:", [r["prompt_tokens"] for r in s],
          f" long system prompt (worker usage.promptTokens): {long_tokens}",
          f" direct, same text: {sorted({x['cold']['prompt_tokens'] for x in stream['direct_long']})}")
    print("cached tokens      1 stream:", [r["cached_prompt_tokens"] for r in s],
          " warm:", sorted({w["cached_prompt_tokens"] for p in prefix for w in p["warm"]}),
          " preset:", [p["first"]["cached_prompt_tokens"] for p in preset],
          " cold:", [p["cold"]["cached_prompt_tokens"] for p in prefix],
          " direct warm:", sorted({w["cached_prompt_tokens"] for x in stream["direct_long"] for w in x["warm"]}))
    full = all(r["completion_tokens"] == MAX_TOKENS for r in b + s)
    print(f"every single-stream run decoded {MAX_TOKENS} tokens: {full}")

    per_token_base = _med(r["decode_ms"] / (r["completion_tokens"] - 1) for r in b)
    print()
    print("1-stream breakdown (medians)           baseline    worker")
    print(f"  time to first token (ms)            {_med(r['ttft_ms'] for r in b):9.1f} {_med(r['ttft_ms'] for r in s):9.1f}"
          f"   (worker prefill {_med(r['timings'].get('prefillMs', 0) for r in s):.1f}, "
          f"queue {_med(r['timings'].get('queueMs', 0) for r in s):.2f})")
    print(f"  per token (ms)                      {per_token_base:9.2f} "
          f"{_med(r['gap_ms']['median'] for r in s):9.2f}   (worker: median gap between chunks at the client; "
          f"engine decodeMs/token {_med(r['timings']['decodeMs'] / r['timings']['decodeTokens'] for r in s):.2f})")
    print(f"  CPU per token, all threads (ms)     {_med(r['cpu_ms'] / r['completion_tokens'] for r in b):9.2f} "
          f"{_med(r['worker_cpu_ms'] / r['completion_tokens'] for r in s):9.2f}   (client "
          f"{_med(r['client_cpu_ms'] / r['completion_tokens'] for r in s):.2f} ms/token on top)")
    print(f"  worker chunk gap p90 / max (ms)     {'':9} {_med(r['gap_ms']['p90'] for r in s):9.2f} / "
          f"{max(r['gap_ms']['max'] for r in s):.2f}")
    streams = [x for cc in c for x in cc["streams"]]
    print(f"4-stream: per-stream {_med(x['tokens_per_s'] for x in streams):.1f} tok/s, "
          f"TTFT {_med(x['ttft_ms'] for x in streams):.1f} ms, chunk gap {_med(x['gap_ms']['median'] for x in streams):.2f} "
          f"ms (medians)")
    print(f"long prompt: worker cold prefillMs {_med(p['cold']['timings'].get('prefillMs', 0) for p in prefix):.1f}; "
          f"warm prefillMs {_med(w['timings'].get('prefillMs', 0) for p in prefix for w in p['warm']):.1f} "
          f"(prefillTokens {sorted({w['timings'].get('prefillTokens') for p in prefix for w in p['warm']})}); "
          f"preset prefillMs {_med(p['first']['timings'].get('prefillMs', 0) for p in preset):.1f} "
          f"(prefillTokens {sorted({p['first']['timings'].get('prefillTokens') for p in preset})})")

    print()
    worker_rss = stream["rss"]["rss_mb"]
    print(f"RSS (MB): worker after the 1- and 4-stream runs {worker_rss} (peak {stream['rss']['hwm_mb']}); "
          f"preset workers {[p['rss']['rss_mb'] for p in preset]}")
    print(f"          baseline process {stream['baseline_rss']['rss_mb']} (n_ctx 4096, 1 sequence; python + llama_cpp "
          f"before loading: {stream['baseline_rss_imported']['VmRSS']:.1f})")
    print(f"          llama.cpp alone with the worker's context shape (4 × 4096, separate KV): {memory['llama_mb']} "
          f"→ worker beyond llama.cpp ≈ {worker_rss - memory['llama_mb']:.1f}")

    cpu = [("stream", stream["cpu"])] + [(f"prefix-{i + 1}", p["cpu"]) for i, p in enumerate(prefix)] + \
          [(f"preset-{i + 1}", p["cpu"]) for i, p in enumerate(preset)]
    foreign = {name: x["foreign_cpu_cores"] for name, x in cpu}
    redone = {"stream repetitions": stream.get("discarded", []),
              "prefix/preset attempts": {f"{kind}-{i + 1}": p["attempt"] for kind, ps in (("prefix", prefix), ("preset", preset))
                                         for i, p in enumerate(ps) if p.get("attempt", 1) > 1}}
    print(f"redone because another job used the CPU: {redone}")
    print(f"machine load: CPU cores (of 2) used by other processes during each phase: {foreign}; "
          f"loadavg at start of the stream phase {stream['cpu']['loadavg_start']}")
    if max(foreign.values()) > 0.1:
        print("WARNING: another job used CPU during the measurements; those numbers are suspect (rerun when idle).")

    out = {
        "baseline_tokens_per_s": base, "worker_single_tokens_per_s": single, "worker_4_streams_tokens_per_s": agg,
        "single_vs_baseline": round(single_ratio, 4), "single_vs_baseline_runs": paired_single["runs"],
        "single_vs_baseline_of_medians": round(single["median"] / base["median"], 4),
        "aggregate_vs_single": round(agg_ratio, 4), "aggregate_vs_single_runs": paired_agg["runs"],
        "aggregate_vs_single_of_medians": round(agg["median"] / single["median"], 4),
        "cold_ttft_ms": cold, "warm_ttft_ms": warm, "preset_ttft_ms": pre,
        "warm_vs_cold": round(warm_ratio, 5), "preset_vs_cold": round(preset_ratio, 5),
        "direct_cold_ttft_ms": direct_cold, "direct_warm_ttft_ms": direct_warm,
        "long_prompt_tokens": long_tokens,
        "completion_tokens": {"baseline": [r["completion_tokens"] for r in b], "single": [r["completion_tokens"] for r in s],
                              "concurrent": [cc["completion_tokens"] for cc in c]},
        "rss_mb": {"worker": worker_rss, "preset_worker": [p["rss"]["rss_mb"] for p in preset],
                   "baseline": stream["baseline_rss"]["rss_mb"], "llama_worker_shape": memory["llama_mb"]},
        "targets_met": {"single": single_ratio >= 0.95, "aggregate": agg_ratio >= 1.3, "warm": warm_ratio <= 0.02},
        "foreign_cpu_cores": foreign, "redone": redone,
    }
    print()
    print("BENCH_JSON " + json.dumps(out, separators=(",", ":")))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inputs")
    p.add_argument("--dir", required=True)
    p.add_argument("--model", required=True)
    p = sub.add_parser("idle")
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--label", default="before measuring")
    p = sub.add_parser("memory")
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("wait")
    p.add_argument("--socket", required=True)
    p.add_argument("--pid", required=True, type=int)
    p.add_argument("--log", required=True)
    p.add_argument("--timeout", type=float, default=120)
    for name in ("stream", "prefix", "preset"):
        p = sub.add_parser(name)
        p.add_argument("--socket", required=True)
        p.add_argument("--pid", required=True, type=int)
        p.add_argument("--out", required=True)
        if name == "stream":
            p.add_argument("--model", required=True, help="the GGUF the baseline loads")
        else:
            p.add_argument("--attempt", type=int, default=ATTEMPTS, help=f"1..{ATTEMPTS}; the last keeps a disturbed run")
    p = sub.add_parser("report")
    p.add_argument("--results", required=True)
    args = parser.parse_args()
    globals()["cmd_" + args.command](args)


if __name__ == "__main__":
    main()
