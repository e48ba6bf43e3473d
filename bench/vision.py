"""The vision benchmark: image input through the runner against llama-cpp-python's libmtmd chat handler on the
same libllama and libmtmd, side by side in alternating rounds.

The model: MODEL_PATH (SmolLM2-135M, n_embd 576) with a random-weight `gemma3` projector made by
scripts/tiny-vlm.py, sized so an image costs a measurable part of the first token (392x392 input, 14-pixel
patches, 784 patches, a 6-block ViT of width 192, pooled 7x7 into 16 image tokens: on 2 idle cores ~120 ms to
encode, then ~75 ms for the LLM to take in the 16 embeddings, of a ~400 ms TTFT). The images: 320x240 PNGs,
one per conversation (they differ in two pixels), because the worker keeps recent encodes by content hash and
would not encode a repeated one: every turn 1 here is cold for its image. A nonce system message
("Conversation N.") opens every conversation, so no turn 1 reuses an earlier request's prefix either.

Each round, both sides, in alternating order (so drift on a shared machine falls on both alike):
  runner    `runner apply` with the model and `vision: {projector: ...}` (llama.cpp: 2 threads, 1 slot):
              - turn 1, new image: streamed OpenAI /v1/chat/completions with [system(nonce), user(image, "Describe
                the image.")], temperature 0, 16 tokens; TTFT from sending the request to the first content delta;
              - turn 2, same image again: [..., assistant(turn-1 answer), user("And the colours?")], TTFT;
              - two such turns on the worker's internal API (its Unix socket, from the supervisor's record in the
                state directory) in a conversation of their own, for what the OpenAI API does not carry: the done
                event's timings.encodeMs, timings.encodedImages (images encoded for this request) and
                usage.imageTokens. The worker's encodeMs is the time mtmd_encode_chunk took (the image encoder
                only; the LLM's decode of the embeddings counts as prefill).
  baseline  bench/vision_direct.py, a child process: `Llama(n_ctx 4096, 2 threads, n_batch 512, flash_attn)`
            (flash attention as llama.cpp's default gives the worker, for the LLM and the vision tower) with a
            Llava15ChatHandler subclass that renders the model's own ChatML layout (the handler's LLaVA-1.5 layout
            would give the two sides different prompts), the same conversation, streamed; TTFT from the call to
            the first content chunk. Its encode time is what libmtmd's helper prints for the image it evaluates
            inside that very request: "image slice encoded in N ms" (mtmd_encode_chunk), the same span as the
            worker's encodeMs; measured by the library in the timed request, with no extra call around it. The handler clears its context on every
            call, so it encodes the image again on turn 2.

Targets: runner turn-1 TTFT <= 1.00 x baseline; images encoded by the runner: 1 on turn 1, 0 on turn 2 (the
repeated image is not encoded again); image tokens = what the projector implies (16). Reported besides: turn-2
TTFT of both sides, the encode time ratio, prompt token counts of both sides (equal when the prompts are), the
worker's own TTFT (no gateway), whether the answers match, and that both processes map the same libllama and
libmtmd (read from /proc/PID/maps; a mismatch stops the run).

Prints a table and one `BENCH_JSON {...}` line. Waits for an idle machine first (`BENCH_IDLE_TIMEOUT`, default
900 s, 0 measures at once); a round during which other processes used more than 0.1 cores is redone (at most 3
attempts, the last kept and flagged). Every process it starts is in its own process group, stopped in `finally`.

Usage: vision.py RUNNER MODEL_PATH [--rounds N] [--keep]
(from bench/, in scripts/env.sh's environment: RUNNER_LLAMA_LIBRARY set; see docs/development.md)
"""
import argparse
import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib

from bench import DISTURBED, print_table, wait_idle
from client import UnixHTTPConnection, read_chat_stream, wait_for_gateway
from lifecycle import Processes, TreeMeter, copy_runner, validate
from vision_direct import mapped_libraries

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PORT = 18214
MODEL = "vlm"
# 392/14 = 28 patches a side, 784 in all; pooled by 7 a side: 4 x 4 = 16 image tokens.
PROJECTOR = ["--image-size", "392", "--patch-size", "14", "--width", "192", "--ffn", "768", "--blocks", "6",
             "--heads", "4", "--scale", "7", "--seed", "0"]
IMAGE_SIZE = (320, 240)
QUESTION = "Describe the image."
FOLLOW_UP = "And the colours?"
MAX_TOKENS = 16
ATTEMPTS = 3  # per round, before a disturbed round is kept (and flagged)
READY_TIMEOUT = 300  # seconds for the baseline to load


def fail(message):
    raise SystemExit(f"vision: {message}")


# ---------------------------------------------------------------------------------------------------------
# Inputs


def make_projector(work, model_path):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "tiny-vlm.py"), os.path.join(work, "vlm"),
                          "--llm", model_path, *PROJECTOR], capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"scripts/tiny-vlm.py failed:\n{out.stdout}{out.stderr}")
    return json.loads(out.stdout)


_PIXELS = {}


def make_png(width, height, variant):
    """A width x height RGB PNG (gradients and a checkerboard), written with the standard library. `variant`
    sets the first two pixels: every conversation gets an image of its own, or the worker, which keeps the
    embeddings of recently encoded images by content hash, would not encode it at all."""
    if (width, height) not in _PIXELS:
        rows = bytearray()
        for y in range(height):
            rows.append(0)  # filter: none
            for x in range(width):
                check = 200 if (x // 40 + y // 40) % 2 else 30
                rows += bytes((x * 255 // (width - 1), y * 255 // (height - 1), check))
        _PIXELS[(width, height)] = rows
    rows = bytearray(_PIXELS[(width, height)])
    rows[1:7] = variant.to_bytes(6, "big")

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b""))


def write_manifest(path, model_path, mmproj):
    with open(path, "w") as f:
        f.write("apiVersion: rockchipllama/v1\nkind: Device\nmetadata: {name: bench-vision}\n"
                "device: {soc: generic, clocks: untouched}\nmodels:\n"
                f"  - name: {MODEL}\n"
                f"    source: {{path: {json.dumps(model_path)}}}\n"
                f"    vision: {{projector: {{path: {json.dumps(mmproj)}}}}}\n"
                "    context: 4096\n"
                "    llamacpp: {threads: 2, parallel: 1}\n"
                f'endpoints:\n  - {{name: local, listen: "127.0.0.1:{PORT}", apis: [openai, ollama, admin]}}\n')


class Conversation:
    """Two turns about one image, in the OpenAI form (gateway and baseline) and the worker's form. Number `n`
    makes both the system message ("Conversation n.") and the image its own."""

    def __init__(self, n):
        self.nonce = f"Conversation {n}."
        self.png = make_png(*IMAGE_SIZE, variant=n)
        self.b64 = base64.b64encode(self.png).decode()

    def openai(self, answer=None):
        messages = [{"role": "system", "content": self.nonce},
                    {"role": "user", "content": [
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + self.b64}},
                        {"type": "text", "text": QUESTION}]}]
        if answer is not None:
            messages += [{"role": "assistant", "content": answer}, {"role": "user", "content": FOLLOW_UP}]
        return messages

    def worker(self, answer=None):
        messages = [{"role": "system", "text": self.nonce},
                    {"role": "user", "text": QUESTION, "images": [{"data": self.b64, "mimeType": "image/png"}]}]
        if answer is not None:
            messages += [{"role": "assistant", "text": answer}, {"role": "user", "text": FOLLOW_UP}]
        return {"messages": messages, "sampling": {"temperature": 0}, "maxTokens": MAX_TOKENS}


# ---------------------------------------------------------------------------------------------------------
# The runner side


def openai_chat(messages):
    """One streamed chat completion through the gateway; TTFT from before connecting to the first content delta."""
    body = json.dumps({"model": MODEL, "messages": messages, "temperature": 0, "max_tokens": MAX_TOKENS,
                       "stream": True})
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=600)
    try:
        conn.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        if response.status != 200:
            fail(f"POST /v1/chat/completions with an image answered {response.status}: "
                 f"{response.read()[:500].decode(errors='replace')}")
        stream = read_chat_stream(response)
        if stream["error"]:
            fail(f"the chat completion stream carried an error: {stream['error'][:500]}")
        if not stream["done"]:
            fail("the chat completion stream ended without `data: [DONE]`")
    finally:
        conn.close()
    end = time.perf_counter()
    return {"ttft_ms": ((stream["first"] or end) - start) * 1000, "total_ms": (end - start) * 1000,
            "text": stream["text"]}


def worker_generate(socket_path, body):
    """POST /v1/generate on the worker's socket; the text and the whole done event."""
    start = time.perf_counter()
    conn = UnixHTTPConnection(socket_path)
    try:
        conn.request("POST", "/v1/generate", body=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        if response.status != 200:
            fail(f"the worker's /v1/generate with an image answered {response.status}: {response.read()[:500]!r}")
        first, text, done = None, [], None
        while True:
            line = response.readline()
            if not line:
                break
            event = json.loads(line)
            if event["type"] == "text":
                if first is None:
                    first = time.perf_counter()
                text.append(event["text"])
            elif event["type"] == "done":
                done = event["done"]
                break
    finally:
        conn.close()
    end = time.perf_counter()
    if done is None:
        fail("the worker's stream ended without a done event")
    if done.get("reason") == "error":
        fail(f"the worker reported an error: {done.get('error')}")
    return {"ttft_ms": ((first or end) - start) * 1000, "text": "".join(text), "done": done}


def image_fields(done, turn):
    """timings.encodeMs, timings.encodedImages and usage.imageTokens of a done event; a clear exit if missing."""
    timings, usage = done.get("timings") or {}, done.get("usage") or {}
    values = {"encodeMs": timings.get("encodeMs"), "encodedImages": timings.get("encodedImages"),
              "imageTokens": usage.get("imageTokens")}
    missing = [("timings." if k != "imageTokens" else "usage.") + k for k, v in values.items() if v is None]
    if missing:
        fail(f"the worker's done event for turn {turn} lacks {', '.join(missing)}: the llama.cpp engine must report "
             f"them for a request with images. The event: {json.dumps(done)[:800]}")
    return values


def worker_socket(state):
    """The worker's socket and pid from the supervisor's record (workers/MODEL.json in the state directory)."""
    record_path = os.path.join(state, "workers", f"{MODEL}.json")
    try:
        with open(record_path) as f:
            record = json.load(f)
        return record["socket"], record["pid"]
    except (OSError, ValueError, KeyError) as e:
        fail(f"cannot read the worker's record {record_path} ({e}); is the model loaded?")


def runner_round(socket_path, conversation, direct):
    """`conversation` through the gateway (the TTFTs), `direct` on the worker's socket (the image fields)."""
    t1 = openai_chat(conversation.openai())
    t2 = openai_chat(conversation.openai(t1["text"]))
    w1 = worker_generate(socket_path, direct.worker())
    w2 = worker_generate(socket_path, direct.worker(w1["text"]))
    f1, f2 = image_fields(w1["done"], 1), image_fields(w2["done"], 2)
    u1, u2 = w1["done"]["usage"], w2["done"]["usage"]
    return {
        "ttft1_ms": t1["ttft_ms"], "ttft2_ms": t2["ttft_ms"], "text1": t1["text"], "text2": t2["text"],
        "worker_ttft1_ms": w1["ttft_ms"], "worker_ttft2_ms": w2["ttft_ms"],
        "encode_ms": f1["encodeMs"], "encodes1": f1["encodedImages"],
        "encode2_ms": f2["encodeMs"], "encodes2": f2["encodedImages"],
        "image_tokens": f1["imageTokens"], "image_tokens2": f2["imageTokens"],
        "prompt_tokens1": u1.get("promptTokens"), "prompt_tokens2": u2.get("promptTokens"),
        "cached_prompt_tokens2": u2.get("cachedPromptTokens"),
        "worker_text1": w1["text"],
    }


# ---------------------------------------------------------------------------------------------------------
# The baseline side


class Baseline:
    """bench/vision_direct.py in a child process (its own process group), driven one JSON line at a time."""

    def __init__(self, procs, model_path, mmproj, log_path):
        self.log_path = log_path
        self.process = subprocess.Popen([sys.executable, os.path.join(HERE, "vision_direct.py"), model_path, mmproj,
                                         log_path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        start_new_session=True)
        procs.started.append(self.process)
        hello = self._read(READY_TIMEOUT)
        self.pid, self.libraries = hello["pid"], hello["libraries"]

    def _read(self, timeout=600):
        line = self.process.stdout.readline()
        if not line:
            try:
                with open(self.log_path, errors="replace") as f:
                    tail = "".join(f.readlines()[-15:])
            except OSError:
                tail = ""
            fail(f"the baseline process ended (exit status {self.process.wait()}); end of {self.log_path}:\n{tail}")
        return json.loads(line)

    def chat(self, messages):
        self.process.stdin.write(json.dumps({"op": "chat", "messages": messages, "max_tokens": MAX_TOKENS}) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self):
        try:
            self.process.stdin.close()
            self.process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            pass


def baseline_round(baseline, conversation):
    b1 = baseline.chat(conversation.openai())
    b2 = baseline.chat(conversation.openai(b1["text"]))
    return {
        "ttft1_ms": b1["ttft_ms"], "ttft2_ms": b2["ttft_ms"], "text1": b1["text"], "text2": b2["text"],
        "encode_ms": sum(b1["encode_ms"]), "encodes1": b1["encodes"],
        "encode2_ms": sum(b2["encode_ms"]), "encodes2": b2["encodes"],
        "image_decode_ms": sum(b1["image_decode_ms"]), "image_tokens": b1["image_tokens"],
        "prompt_tokens1": b1["prompt_tokens"], "prompt_tokens2": b2["prompt_tokens"],
    }


# ---------------------------------------------------------------------------------------------------------
# The same libraries on both sides


def same_libraries(worker_pid, baseline_libraries):
    """libllama and libmtmd as mapped by the worker and by the baseline: the same files, or byte-identical."""
    worker = mapped_libraries(worker_pid)
    result = {}
    for name in ("libllama", "libmtmd"):
        ours, theirs = worker.get(name), baseline_libraries.get(name)
        if ours is None:
            fail(f"the runner's worker (pid {worker_pid}) has no {name} mapped after an image request")
        if theirs is None:
            fail(f"the baseline has no {name} mapped")
        if ours != theirs:
            digest = [hashlib.sha256(open(p, "rb").read()).hexdigest() for p in (ours, theirs)]
            if digest[0] != digest[1]:
                fail(f"the two sides load different {name}: the worker {ours}, the baseline {theirs}")
        result[name] = {"worker": ours, "baseline": theirs}
    return result


# ---------------------------------------------------------------------------------------------------------
# Rounds and report


def measure(runner, model_path, work, rounds, procs):
    projector = make_projector(work, model_path)
    manifest = os.path.join(work, "vision.yaml")
    write_manifest(manifest, model_path, projector["mmproj"])
    validate(runner, manifest)

    baseline = Baseline(procs, model_path, projector["mmproj"], os.path.join(work, "baseline.log"))
    state = os.path.join(work, "state")
    log = os.path.join(work, "apply.log")
    apply = procs.spawn([runner, "apply", manifest, "--state-dir", state, "--readiness-timeout", "300"], log)
    try:
        wait_for_gateway(PORT, apply, log, attempts=3000)
        socket_path, worker_pid = worker_socket(state)
        # Warm-up, not counted: first-call costs (graph allocation, page faults) on both sides.
        runner_round(socket_path, Conversation(9001), Conversation(9002))
        baseline_round(baseline, Conversation(9003))
        libraries = same_libraries(worker_pid, baseline.libraries)

        wait_idle(float(os.environ.get("BENCH_IDLE_TIMEOUT", 900)), "before the vision rounds")
        rows = []
        for i in range(rounds):
            for attempt in range(1, ATTEMPTS + 1):
                # 4-digit numbers: the same prompt length every round. Both sides get the same conversation;
                # the worker's socket gets one of its own.
                chat = Conversation(1000 + 10 * i + attempt)
                direct = Conversation(5000 + 10 * i + attempt)
                meter = TreeMeter()
                if i % 2 == 0:
                    r = runner_round(socket_path, chat, direct)
                    b = baseline_round(baseline, chat)
                else:
                    b = baseline_round(baseline, chat)
                    r = runner_round(socket_path, chat, direct)
                foreign = meter.result()["foreign_cpu_cores"]
                if foreign <= DISTURBED or attempt == ATTEMPTS:
                    break
                print(f"  round {i + 1}: other processes used {foreign} cores; redoing it", file=sys.stderr)
            rows.append({"runner": r, "baseline": b, "foreign_cpu_cores": foreign, "attempts": attempt})
            print(f"  round {i + 1:2}: TTFT runner {r['ttft1_ms']:7.1f} / {r['ttft2_ms']:7.1f} ms, baseline "
                  f"{b['ttft1_ms']:7.1f} / {b['ttft2_ms']:7.1f} ms (turn 1 / 2); encode runner {r['encode_ms']:.0f} "
                  f"ms, baseline {b['encode_ms']:.0f} ms; runner turn-2 encodes {r['encodes2']}", file=sys.stderr)
    finally:
        baseline.close()
        procs.stop(apply)
    return {"projector": projector,
            "image": {"width": IMAGE_SIZE[0], "height": IMAGE_SIZE[1], "bytes": len(Conversation(1).png)},
            "libraries": libraries, "rows": rows}


def report(result):
    med = statistics.median
    rows = result["rows"]

    def col(side, key):
        return [x[side][key] for x in rows]

    def runs(values):
        return "[" + ", ".join(f"{v:.0f}" for v in values) + "]"

    def verdict(flag):
        return "PASS" if flag else "MISS"

    expected_tokens = result["projector"]["image_tokens"]
    r_t1, b_t1 = med(col("runner", "ttft1_ms")), med(col("baseline", "ttft1_ms"))
    r_t2, b_t2 = med(col("runner", "ttft2_ms")), med(col("baseline", "ttft2_ms"))
    r_enc, b_enc = med(col("runner", "encode_ms")), med(col("baseline", "encode_ms"))
    encodes2 = col("runner", "encodes2")
    image_tokens = sorted(set(col("runner", "image_tokens")) | set(col("runner", "image_tokens2")))
    ratios = {"ttft_turn1": r_t1 / b_t1, "ttft_turn2": r_t2 / b_t2,
              "encode": r_enc / b_enc if b_enc else None,
              "paired_ttft_turn1": med(x["runner"]["ttft1_ms"] / x["baseline"]["ttft1_ms"] for x in rows)}
    prompt_tokens = {side: sorted({(x[side]["prompt_tokens1"], x[side]["prompt_tokens2"]) for x in rows})
                     for side in ("runner", "baseline")}
    targets = {"ttft_turn1": ratios["ttft_turn1"] <= 1.0, "turn2_encodes_zero": all(n == 0 for n in encodes2),
               "turn1_encodes_one": all(n == 1 for n in col("runner", "encodes1")),
               "image_tokens": image_tokens == [expected_tokens]}

    table = [
        ("TTFT, new image (turn 1, ms)", f"{r_t1:.1f}", runs(col("runner", "ttft1_ms")), f"{b_t1:.1f}",
         runs(col("baseline", "ttft1_ms")), f"{ratios['ttft_turn1']:.3f}x", "<= 1.00x",
         verdict(targets["ttft_turn1"])),
        ("TTFT, repeated image (turn 2, ms)", f"{r_t2:.1f}", runs(col("runner", "ttft2_ms")), f"{b_t2:.1f}",
         runs(col("baseline", "ttft2_ms")), f"{ratios['ttft_turn2']:.3f}x", "", ""),
        ("image encode, turn 1 (ms)", f"{r_enc:.1f}", runs(col("runner", "encode_ms")),
         f"{b_enc:.1f}", runs(col("baseline", "encode_ms")),
         f"{ratios['encode']:.3f}x" if ratios["encode"] else "-", "", ""),
        ("images encoded on turn 1", "", str(col("runner", "encodes1")), "", str(col("baseline", "encodes1")), "",
         "1", verdict(targets["turn1_encodes_one"])),
        ("images encoded on turn 2", "", str(encodes2), "", str(col("baseline", "encodes2")), "", "0",
         verdict(targets["turn2_encodes_zero"])),
        ("image tokens per image", str(image_tokens), "", str(sorted(set(col("baseline", "image_tokens")))), "", "",
         f"= {expected_tokens}", verdict(targets["image_tokens"])),
        ("prompt tokens (turn 1, turn 2)", str(prompt_tokens["runner"]), "", str(prompt_tokens["baseline"]), "",
         "same" if prompt_tokens["runner"] == prompt_tokens["baseline"] else "differ", "", ""),
        ("worker TTFT, no gateway (turn 1 / 2, ms)", f"{med(col('runner', 'worker_ttft1_ms')):.1f} / "
         f"{med(col('runner', 'worker_ttft2_ms')):.1f}", "", "", "", "", "", ""),
    ]
    print_table(("measurement", "runner", "runs", "baseline", "runs", "ratio", "target", ""), table)
    print()
    same = [x["runner"]["text1"] == x["baseline"]["text1"] for x in rows]
    print(f"turn-1 answers equal on both sides in {sum(same)} of {len(rows)} rounds; runner: "
          f"{sorted({x['runner']['text1'] for x in rows})}; baseline: {sorted({x['baseline']['text1'] for x in rows})}")
    print(f"runner turn 2: cached prompt tokens {sorted({str(x['runner']['cached_prompt_tokens2']) for x in rows})}, "
          f"encodeMs {sorted({x['runner']['encode2_ms'] for x in rows})}")
    print(f"libraries: {json.dumps(result['libraries'])}")
    foreign = [x["foreign_cpu_cores"] for x in rows]
    print(f"machine load: CPU cores (of {os.cpu_count()}) used by other processes in each round: {foreign}")
    if max(foreign) > DISTURBED:
        print("WARNING: another job used CPU during some rounds; those numbers are suspect (rerun when idle).")
    out = {"rounds": len(rows), "projector": {"flags": PROJECTOR, **result["projector"]}, "image": result["image"],
           "ratios": ratios, "targets": targets, "prompt_tokens": prompt_tokens, "libraries": result["libraries"],
           "same_answer_turn1": same, "foreign_cpu_cores": foreign, "attempts": [x["attempts"] for x in rows],
           "runner": {k: col("runner", k) for k in rows[0]["runner"] if not k.startswith(("text", "worker_text"))},
           "baseline": {k: col("baseline", k) for k in rows[0]["baseline"] if not k.startswith("text")}}
    print()
    print("BENCH_JSON " + json.dumps(out, separators=(",", ":")))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runner")
    parser.add_argument("model")
    parser.add_argument("--rounds", type=int, default=5, help="rounds on each side (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (manifest, projector, logs)")
    args = parser.parse_args()
    if not os.environ.get("RUNNER_LLAMA_LIBRARY"):
        fail("RUNNER_LLAMA_LIBRARY is unset; run in scripts/env.sh's environment")
    if args.rounds < 1:
        fail("--rounds must be at least 1")
    model_path = os.path.abspath(args.model)
    # SIGTERM (a CI timeout, kill) ends the run through `finally` too, so nothing started here is left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # A short path: Unix socket paths are limited to 108 bytes.
    work = tempfile.mkdtemp(prefix="rl-vision.", dir="/tmp")
    procs = Processes()
    failed = True
    try:
        runner = copy_runner(os.path.abspath(args.runner), work)
        report(measure(runner, model_path, work, args.rounds, procs))
        failed = False
    finally:
        procs.stop_all()
        if args.keep or failed:
            print(f"vision: files kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
