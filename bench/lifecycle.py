"""The lifecycle benchmark: what loading models on demand costs, and how the scheduler holds up when models
must take turns in a memory budget.

Two phases, each against its own `runner apply` (a copy of the runner binary, so a rebuild of .build/ does not
change it under the run):

  cold    time to first token of a model that is not loaded, side by side in alternating rounds:
            - through the runner: a manifest with `lifecycle: {preload: false}`; a streamed OpenAI chat
              completion, timed from sending the request to its first content token (the scheduler starts the
              worker, waits for its health answer, then the request runs); then DELETE /v1/loaded/NAME and
              wait until GET /v1/loaded no longer lists it;
            - the same worker started directly: `runner worker --model NAME --manifest M --state-dir S`, timed
              from the spawn to the first text event (/v1/health polled every 10 ms, then POST /v1/generate
              with the same conversation, greedy); then SIGTERM and wait for the exit.
          Target: median(runner) <= 1.10 x median(direct).
  rotate  the same GGUF declared as three models (a, b, c; preload false; each worker ~180 MiB) under
          `device: {memory: {budget: 400MiB}}`, so only two fit: requests cycle a, b, c, a, ... (streamed,
          short answers), first from one client, then from several at once. Every answer must be whole (200
          and the stream's final `data: [DONE]`); evictions are read from /metrics. Cycling three models
          through two places is least-recently-used's worst case: nearly every request swaps a model.

Prints a table and one `BENCH_JSON {...}` line. Waits for an idle machine before each phase
(`BENCH_IDLE_TIMEOUT`, default 900 s, 0 measures at once) and reports the CPU other processes used meanwhile.

Usage: lifecycle.py RUNNER MODEL_PATH [--pairs N] [--requests N | --duration S] [--clients N] [--keep]
(from bench/, in scripts/env.sh's environment: RUNNER_LLAMA_LIBRARY set; see docs/development.md)
"""
import argparse
import http.client
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from bench import DISTURBED, print_table, wait_idle
from client import UnixHTTPConnection, generate, read_chat_stream, wait_for_gateway

PORT = 18213
PROMPT = "Name three colours of the rainbow."
COLD_MAX_TOKENS = 8  # only the first token is timed; a few more show both sides give the same answer
ROTATE_PROMPTS = ["Say hello.", "What is two plus two?", "Name a fruit.", "Name a planet.", "Say goodbye."]
BUDGET = "400MiB"
HEALTH_POLL = 0.01  # seconds between the direct side's health checks
GONE_TIMEOUT = 30  # seconds an unloaded (or stopped) worker may take to go


# ---------------------------------------------------------------------------------------------------------
# Processes: every one this script starts is in a process group of its own, stopped in `finally`.


class Processes:
    def __init__(self):
        self.started = []

    def spawn(self, args, log_path, env=None, cwd=None):
        log = open(log_path, "a")
        process = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
                                   env=env, cwd=cwd)
        log.close()
        self.started.append(process)
        return process

    def stop(self, process, timeout=GONE_TIMEOUT):
        """SIGTERM (a `runner apply` then stops its workers itself), then SIGKILL to the process, its group and
        any descendant that outlived it (the workers `runner apply` starts are its children)."""
        descendants = _descendants(process.pid)
        if process.poll() is None:
            try:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"lifecycle: pid {process.pid} did not stop within {timeout} s; killing it", file=sys.stderr)
        for pid in [process.pid, *descendants]:
            try:
                os.killpg(pid, signal.SIGKILL) if pid == process.pid else os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if process in self.started:
            self.started.remove(process)

    def stop_all(self):
        for process in list(reversed(self.started)):
            self.stop(process, timeout=10)


def _children_table():
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        table.setdefault(int(fields[1]), []).append(int(entry))
    return table


def _descendants(pid, table=None):
    table = _children_table() if table is None else table
    found, todo = [], [pid]
    while todo:
        for child in table.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def _ticks(pid):
    """utime + stime of a process, plus those of the children it has waited for (cutime + cstime)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15])
    except (FileNotFoundError, ProcessLookupError):
        return 0


def _system_busy():
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    return user + nice + system + irq + softirq + steal


class TreeMeter:
    """CPU used during a phase by everything outside this script's process tree (this script, the runner, its
    workers and the direct workers, which come and go: an exited one counts in its parent's cutime)."""

    def __init__(self):
        self.t0, self.busy0, self.own0 = time.monotonic(), _system_busy(), self._own()

    @staticmethod
    def _own():
        return sum(_ticks(p) for p in [os.getpid(), *_descendants(os.getpid())])

    def result(self):
        hz = os.sysconf("SC_CLK_TCK")
        elapsed = time.monotonic() - self.t0
        busy, own = _system_busy() - self.busy0, self._own() - self.own0
        return {"seconds": round(elapsed, 1), "own_cpu_cores": round(own / hz / elapsed, 2),
                "foreign_cpu_cores": round(max(0, busy - own) / hz / elapsed, 2)}


# ---------------------------------------------------------------------------------------------------------
# HTTP


def http_json(method, path, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        body = response.read()
        return response.status, (json.loads(body) if body.startswith(b"{") else body.decode(errors="replace"))
    finally:
        conn.close()


def loaded_models():
    status, body = http_json("GET", "/v1/loaded")
    if status != 200:
        raise RuntimeError(f"GET /v1/loaded answered {status}: {body}")
    return [m["name"] for m in body["models"]]


_SAMPLE = re.compile(r'^([a-z_]+)\{([^}]*)\} (\S+)$')


def metrics():
    """/metrics as {(name, ((label, value), ...)): value}."""
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    samples = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m:
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2))))
            samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def metric_sum(samples, name, **labels):
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def chat(model, content, max_tokens, start=None):
    """One streamed OpenAI chat completion over a new connection. Timed from before connecting; whole when the
    answer is 200 and the stream ends with `data: [DONE]` after a chunk with a finish_reason."""
    start = time.perf_counter() if start is None else start
    result = {"model": model, "start": start, "status": None, "ok": False, "ttft_ms": None, "error": None,
              "text": ""}
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": max_tokens,
                       "temperature": 0, "stream": True})
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=600)
    try:
        conn.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        result["status"] = response.status
        if response.status != 200:
            result["error"] = response.read()[:300].decode(errors="replace")
            return result
        stream = read_chat_stream(response)
        done, finished = stream["done"], stream["finished"]
        result["error"] = stream["error"] and stream["error"][:300]
        if stream["first"] is not None:
            result["ttft_ms"] = (stream["first"] - start) * 1000
        result["text"] = stream["text"]
        result["ok"] = done and finished and result["error"] is None
        if not result["ok"] and result["error"] is None:
            result["error"] = "the stream ended without " + ("a finish_reason" if done else "data: [DONE]")
    except (OSError, http.client.HTTPException, ValueError) as e:
        result["error"] = f"{type(e).__name__}: {e}"
    finally:
        conn.close()
        result["end"] = time.perf_counter()
        result["total_ms"] = (result["end"] - start) * 1000
    return result


# ---------------------------------------------------------------------------------------------------------
# Setup


def model_yaml(name, model_path):
    return (f"  - name: {name}\n"
            f"    source: {{path: {json.dumps(model_path)}}}\n"
            f"    context: 512\n"
            f"    llamacpp: {{threads: 2, parallel: 1}}\n"
            f"    lifecycle: {{preload: false}}\n")


def write_manifest(path, names, model_path, budget=None):
    with open(path, "w") as f:
        f.write("apiVersion: rockchipllama/v1\nkind: Device\nmetadata: {name: lifecycle-bench}\n")
        if budget:
            f.write(f"device: {{memory: {{budget: {budget}}}}}\n")
        f.write("models:\n" + "".join(model_yaml(n, model_path) for n in names))
        f.write(f'endpoints:\n  - {{name: bench, listen: "127.0.0.1:{PORT}", apis: [openai, ollama, admin, metrics]}}\n')


def copy_runner(runner, work):
    """A copy of the runner for the whole run; .build/ may be rebuilt meanwhile (retried while it is)."""
    target = os.path.join(work, "runner")
    for attempt in range(30):
        try:
            shutil.copy2(runner, target)
            subprocess.run([target, "--version"], check=True, capture_output=True, timeout=30)
            return target
        except (OSError, subprocess.SubprocessError) as e:
            print(f"lifecycle: copying {runner} failed ({e}); retrying in 10 s", file=sys.stderr)
            time.sleep(10)
    raise SystemExit(f"could not copy a working {runner}")


def validate(runner, manifest):
    out = subprocess.run([runner, "validate", manifest], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"runner validate refused {manifest}:\n{out.stdout}{out.stderr}")


def start_apply(procs, runner, manifest, state, log):
    apply = procs.spawn([runner, "apply", manifest, "--state-dir", state, "--readiness-timeout", "120"], log)
    wait_for_gateway(PORT, apply, log)
    return apply


def wait_until(predicate, what, timeout=GONE_TIMEOUT, interval=0.01):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------------------
# Phase 1: cold time to first token


def runner_round(name):
    """Cold request through the runner, then unload. The runner's own load time comes from /metrics."""
    before = metrics()
    r = chat(name, PROMPT, COLD_MAX_TOKENS)
    if not r["ok"]:
        raise RuntimeError(f"cold request through the runner failed: {r['status']} {r['error']}")
    after = metrics()
    load_s = (metric_sum(after, "rockchipllama_model_load_duration_seconds_sum", model=name)
              - metric_sum(before, "rockchipllama_model_load_duration_seconds_sum", model=name))
    loads = (metric_sum(after, "rockchipllama_model_loads_total", model=name)
             - metric_sum(before, "rockchipllama_model_loads_total", model=name))
    t = time.perf_counter()
    status, body = http_json("DELETE", f"/v1/loaded/{name}")
    if status != 200:
        raise RuntimeError(f"DELETE /v1/loaded/{name} answered {status}: {body}")
    wait_until(lambda: name not in loaded_models(), f"{name} to leave /v1/loaded")
    unload_ms = (time.perf_counter() - t) * 1000
    return {"ttft_ms": r["ttft_ms"], "load_ms": load_s * 1000, "loads": loads, "unload_ms": unload_ms,
            "unload_status": body.get("status") if isinstance(body, dict) else body, "text": r["text"]}


def direct_round(procs, runner, manifest, name, state, log):
    """The same worker started by hand: spawn -> health -> generate; then SIGTERM and wait for its exit."""
    socket_path = os.path.join(state, "workers", f"{name}.sock")
    start = time.perf_counter()
    worker = procs.spawn([runner, "worker", "--model", name, "--manifest", manifest, "--state-dir", state], log)
    try:
        while True:
            if worker.poll() is not None:
                raise RuntimeError(f"the direct worker exited with status {worker.returncode}; see {log}")
            try:
                conn = UnixHTTPConnection(socket_path, timeout=2)
                conn.request("GET", "/v1/health")
                ok = conn.getresponse().status == 200
                conn.close()
                if ok:
                    break
            except OSError:
                pass
            if time.perf_counter() - start > 120:
                raise RuntimeError(f"the direct worker did not answer its health check within 120 s; see {log}")
            time.sleep(HEALTH_POLL)
        ready_ms = (time.perf_counter() - start) * 1000
        r = generate(socket_path, {"messages": [{"role": "user", "text": PROMPT}], "maxTokens": COLD_MAX_TOKENS,
                                   "sampling": {"temperature": 0}}, start=start)
    finally:
        # A blocking wait (Popen.wait with a timeout polls, in steps of up to 50 ms); a timer kills a worker
        # that does not stop.
        killer = threading.Timer(GONE_TIMEOUT, worker.kill)
        t = time.perf_counter()
        worker.send_signal(signal.SIGTERM)
        killer.start()
        worker.wait()
        stop_ms = (time.perf_counter() - t) * 1000
        killer.cancel()
        procs.stop(worker)  # SIGKILL to whatever is left of it
    return {"ttft_ms": r["ttft_ms"], "ready_ms": ready_ms, "stop_ms": stop_ms, "text": r["text"]}


def phase_cold(procs, runner, model_path, work, pairs):
    name = "cold"
    manifest = os.path.join(work, "cold.yaml")
    write_manifest(manifest, [name], model_path)
    validate(runner, manifest)
    direct_state = os.path.join(work, "direct-state")
    direct_log = os.path.join(work, "direct-worker.log")
    log = os.path.join(work, "apply-cold.log")
    wait_idle(float(os.environ.get("BENCH_IDLE_TIMEOUT", 900)), "before the cold phase")
    apply = start_apply(procs, runner, manifest, os.path.join(work, "state-cold"), log)
    try:
        if loaded_models():
            raise RuntimeError(f"a model with preload: false is loaded before any request: {loaded_models()}")
        # Warm-up, not counted: the first exec of the binary and the first read of the GGUF come from disk.
        runner_round(name)
        direct_round(procs, runner, manifest, name, direct_state, direct_log)
        meter = TreeMeter()
        rows = []
        for i in range(pairs):
            # The order alternates, so the machine's drift over seconds falls on both sides alike.
            if i % 2 == 0:
                r = runner_round(name)
                d = direct_round(procs, runner, manifest, name, direct_state, direct_log)
            else:
                d = direct_round(procs, runner, manifest, name, direct_state, direct_log)
                r = runner_round(name)
            rows.append({"runner": r, "direct": d})
            print(f"  pair {i + 1:2}: runner {r['ttft_ms']:7.1f} ms (load {r['load_ms']:6.1f}), direct "
                  f"{d['ttft_ms']:7.1f} ms (ready {d['ready_ms']:6.1f})", file=sys.stderr)
        cpu = meter.result()
    finally:
        procs.stop(apply)
    med = statistics.median
    runner_ttft = [x["runner"]["ttft_ms"] for x in rows]
    direct_ttft = [x["direct"]["ttft_ms"] for x in rows]
    return {
        "pairs": pairs, "runner_ttft_ms": runner_ttft, "direct_ttft_ms": direct_ttft,
        "ratio": med(runner_ttft) / med(direct_ttft),
        "paired_ratio": med(x["runner"]["ttft_ms"] / x["direct"]["ttft_ms"] for x in rows),
        "runner_load_ms": [x["runner"]["load_ms"] for x in rows],
        "direct_ready_ms": [x["direct"]["ready_ms"] for x in rows],
        "runner_after_load_ms": [x["runner"]["ttft_ms"] - x["runner"]["load_ms"] for x in rows],
        "direct_after_ready_ms": [x["direct"]["ttft_ms"] - x["direct"]["ready_ms"] for x in rows],
        "unload_ms": [x["runner"]["unload_ms"] for x in rows],
        "direct_stop_ms": [x["direct"]["stop_ms"] for x in rows],
        "loads_per_round": sorted({x["runner"]["loads"] for x in rows}),
        "unload_status": sorted({str(x["runner"]["unload_status"]) for x in rows}),
        "same_answer": all(x["runner"]["text"] == x["direct"]["text"] for x in rows),
        "answers": sorted({x["runner"]["text"] for x in rows} | {x["direct"]["text"] for x in rows}),
        "cpu": cpu,
    }


# ---------------------------------------------------------------------------------------------------------
# Phase 2: three models, room for two


class Monitor(threading.Thread):
    """Samples the runner's live workers every 50 ms: how many, and their RSS together."""

    def __init__(self, apply_pid):
        super().__init__(daemon=True)
        self.apply_pid = apply_pid
        self.halt = threading.Event()
        self.max_workers, self.max_rss_mib, self.samples = 0, 0.0, 0

    def run(self):
        while not self.halt.is_set():
            workers = _children_table().get(self.apply_pid, [])
            rss = [_rss_mib(p) for p in workers]
            live = [r for r in rss if r > 0]
            self.max_workers = max(self.max_workers, len(live))
            self.max_rss_mib = max(self.max_rss_mib, sum(live))
            self.samples += 1
            self.halt.wait(0.05)


def rotate(names, clients, requests, duration, max_tokens):
    """`clients` threads; client k's j-th request goes to names[(k + j) % len(names)]. Stops after `requests`
    requests in all, or once `duration` seconds have passed (then every client finishes its current one)."""
    results, lock = [], threading.Lock()
    counter = iter(range(10 ** 9))
    began = time.perf_counter()

    def client(k):
        j = 0
        while True:
            with lock:
                n = next(counter)
            if duration is None and n >= requests:
                return
            if duration is not None and time.perf_counter() - began >= duration:
                return
            name = names[(k + j) % len(names)]
            r = chat(name, ROTATE_PROMPTS[n % len(ROTATE_PROMPTS)], max_tokens)
            r["client"] = k
            with lock:
                results.append(r)
            j += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(results, key=lambda r: r["start"])


def percentile(values, p):
    values = sorted(values)
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)] if values else None


def phase_rotate(procs, runner, model_path, work, clients, requests, duration, max_tokens):
    names = ["a", "b", "c"]
    manifest = os.path.join(work, "rotate.yaml")
    write_manifest(manifest, names, model_path, budget=BUDGET)
    validate(runner, manifest)
    label = f"{clients} client{'s' if clients > 1 else ''}"
    wait_idle(float(os.environ.get("BENCH_IDLE_TIMEOUT", 900)), f"before the rotation with {label}")
    log = os.path.join(work, f"apply-rotate-{clients}.log")
    apply = start_apply(procs, runner, manifest, os.path.join(work, f"state-rotate-{clients}"), log)
    monitor = Monitor(apply.pid)
    try:
        monitor.start()
        meter = TreeMeter()
        results = rotate(names, clients, requests, duration, max_tokens)
        cpu = meter.result()
        samples = metrics()
        still_loaded = loaded_models()
    finally:
        monitor.halt.set()
        monitor.join()
        procs.stop(apply)
    elapsed = max(r["end"] for r in results) - min(r["start"] for r in results)
    failures = [r for r in results if not r["ok"]]
    ttft = [r["ttft_ms"] for r in results if r["ok"]]
    evictions = metric_sum(samples, "rockchipllama_model_unloads_total", reason="evicted")
    loads = metric_sum(samples, "rockchipllama_model_loads_total")
    load_sum = metric_sum(samples, "rockchipllama_model_load_duration_seconds_sum")
    load_count = metric_sum(samples, "rockchipllama_model_load_duration_seconds_count")
    unloads = {reason: metric_sum(samples, "rockchipllama_model_unloads_total", reason=reason)
               for reason in ("idle", "evicted", "keep_alive", "unload", "manifest")}
    # A request that found its model loaded answers in tens of ms; one that waited for a load, in about a second.
    return {
        "clients": clients, "requests": len(results), "failures": len(failures),
        "failed": [{k: r[k] for k in ("model", "client", "status", "error", "total_ms")} for r in failures[:10]],
        "seconds": elapsed, "evictions": evictions, "swaps_per_minute": evictions / (elapsed / 60),
        "loads": loads, "mean_load_ms": 1000 * load_sum / load_count if load_count else None,
        "unloads": {k: v for k, v in unloads.items() if v},
        "ttft_p50_ms": percentile(ttft, 50), "ttft_p95_ms": percentile(ttft, 95),
        "ttft_max_ms": max(ttft) if ttft else None,
        "ttft_ms": [round(x, 1) for x in ttft],
        "max_workers": monitor.max_workers, "max_workers_rss_mib": round(monitor.max_rss_mib, 1),
        "loaded_at_end": still_loaded, "cpu": cpu,
    }


# ---------------------------------------------------------------------------------------------------------
# Report


def report(cold, rotations):
    med = statistics.median

    def ok(flag):
        return "PASS" if flag else "MISS"

    def runs(values):
        return "[" + ", ".join(f"{v:.0f}" for v in values) + "]"

    rows = []
    if cold:
        rows += [
            ("cold TTFT through the runner", f"{med(cold['runner_ttft_ms']):.1f} ms", runs(cold["runner_ttft_ms"]),
             "", "", ""),
            ("cold TTFT, worker started directly", f"{med(cold['direct_ttft_ms']):.1f} ms",
             runs(cold["direct_ttft_ms"]), "", "", ""),
            ("runner / direct", f"{cold['ratio']:.3f}×", "",
             f"median of {cold['pairs']} paired ratios {cold['paired_ratio']:.3f}×", "≤ 1.10×", ok(cold["ratio"] <= 1.10)),
            ("  runner: load (start → health, /metrics)", f"{med(cold['runner_load_ms']):.1f} ms",
             runs(cold["runner_load_ms"]), "", "", ""),
            ("  direct: spawn → health", f"{med(cold['direct_ready_ms']):.1f} ms", runs(cold["direct_ready_ms"]), "",
             "", ""),
            ("  runner: TTFT - load", f"{med(cold['runner_after_load_ms']):.1f} ms", runs(cold["runner_after_load_ms"]),
             "", "", ""),
            ("  direct: TTFT - ready", f"{med(cold['direct_after_ready_ms']):.1f} ms",
             runs(cold["direct_after_ready_ms"]), "", "", ""),
            ("  unload (DELETE → gone from /v1/loaded)", f"{med(cold['unload_ms']):.1f} ms", runs(cold["unload_ms"]),
             "", "", ""),
            ("  direct: SIGTERM → exit", f"{med(cold['direct_stop_ms']):.1f} ms", runs(cold["direct_stop_ms"]), "", "",
             ""),
        ]
    for r in rotations:
        label = f"a,b,c in {BUDGET}, {r['clients']} client{'s' if r['clients'] > 1 else ''}"
        rows += [
            (f"{label}: requests / failures", f"{r['requests']} / {r['failures']}", "", "", "0 failures",
             ok(r["failures"] == 0)),
            (f"  swaps (evictions) per minute", f"{r['swaps_per_minute']:.1f}",
             f"{r['evictions']:.0f} in {r['seconds']:.1f} s", f"{r['loads']:.0f} loads, mean "
             + (f"{r['mean_load_ms']:.0f} ms" if r["mean_load_ms"] else "-"), "", ""),
            (f"  TTFT p50 / p95", f"{r['ttft_p50_ms']:.1f} / {r['ttft_p95_ms']:.1f} ms", f"max {r['ttft_max_ms']:.0f}",
             "", "", ""),
            (f"  workers alive at once (max), their RSS", f"{r['max_workers']}", f"{r['max_workers_rss_mib']:.0f} MiB",
             "", "≤ 2", ok(r["max_workers"] <= 2)),
        ]
    print_table(("measurement", "median / value", "runs", "ratio / detail", "target", ""), rows)
    print()
    if cold:
        print(f"cold: same greedy answer on both sides: {cold['same_answer']} {cold['answers']}; loads per runner "
              f"round {cold['loads_per_round']}; DELETE answered {cold['unload_status']}")
    for r in rotations:
        print(f"rotation, {r['clients']} client(s): unloads by reason {r['unloads']}; loaded at the end "
              f"{r['loaded_at_end']}")
        for f in r["failed"]:
            print(f"  FAILED {f}")
    foreign = {**({"cold": cold["cpu"]["foreign_cpu_cores"]} if cold else {}),
               **{f"rotate-{r['clients']}": r["cpu"]["foreign_cpu_cores"] for r in rotations}}
    print(f"machine load: CPU cores (of {os.cpu_count()}) used by other processes during each phase: {foreign}")
    if foreign and max(foreign.values()) > DISTURBED:
        print("WARNING: another job used CPU during the measurements; those numbers are suspect (rerun when idle).")
    out = {"cold": cold, "rotations": rotations, "foreign_cpu_cores": foreign}
    print()
    print("BENCH_JSON " + json.dumps(out, separators=(",", ":")))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runner")
    parser.add_argument("model")
    parser.add_argument("--pairs", type=int, default=10, help="cold rounds on each side (default 10)")
    parser.add_argument("--requests", type=int, default=60, help="requests per rotation (default 60)")
    parser.add_argument("--duration", type=float, help="seconds per rotation instead of a request count")
    parser.add_argument("--clients", default="1,3", help="rotations to run, by client count (default 1,3)")
    parser.add_argument("--max-tokens", type=int, default=16, help="answer length in the rotations (default 16)")
    parser.add_argument("--phases", default="cold,rotate", help="cold, rotate or both (default)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (manifests, logs)")
    args = parser.parse_args()
    model_path = os.path.abspath(args.model)
    phases = args.phases.split(",")
    # SIGTERM (a CI timeout, kill) ends the run through `finally` too, so nothing started here is left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # A short path: Unix socket paths are limited to 108 bytes.
    work = tempfile.mkdtemp(prefix="rl-lifecycle.", dir="/tmp")
    procs = Processes()
    failed = True
    try:
        runner = copy_runner(os.path.abspath(args.runner), work)
        cold = phase_cold(procs, runner, model_path, work, args.pairs) if "cold" in phases else None
        rotations = []
        if "rotate" in phases:
            for clients in (int(n) for n in args.clients.split(",") if n):
                rotations.append(phase_rotate(procs, runner, model_path, work, clients, args.requests, args.duration,
                                              args.max_tokens))
        report(cold, rotations)
        failed = False
    finally:
        procs.stop_all()
        if args.keep or failed:
            print(f"lifecycle: files kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
