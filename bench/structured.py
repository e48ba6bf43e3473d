"""The structured-output benchmark: what holding an answer to a JSON schema costs on the llama.cpp engine.

One `runner apply` (SmolLM2, 2 threads, one slot; a copy of the runner binary), driven on the worker's own
socket (POST /v1/generate: the done event carries the engine's timings):

  decode   the same prompts answered free and under a JSON schema, in alternating order, greedy, 200 tokens at
           most: decode rate = timings.decodeTokens / timings.decodeMs (the grammar sampler runs on every
           token). Each constrained answer is checked to parse. Target: constrained >= 0.9 x free (medians).
  compile  a 50-property object schema, new each round (a property name carries the round number, so the
           engine's per-schema cache never has it) against the same schema sent again: the difference of the
           requests' timings.queueMs (the request is compiled, and its grammar checked by llama.cpp, on the
           engine thread before it queues) is what a new schema costs. Target: <= 5 ms.

Prints a table and one `BENCH_JSON {...}` line. Waits for an idle machine first (`BENCH_IDLE_TIMEOUT`,
default 900 s, 0 measures at once).

Usage: structured.py RUNNER MODEL_PATH [--rounds N] [--keep]
(from bench/, in scripts/env.sh's environment: RUNNER_LLAMA_LIBRARY set; see docs/development.md)
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile

from bench import print_table, wait_idle
from client import generate, wait_for_gateway
from lifecycle import Processes, copy_runner, validate

PORT = 18215
MODEL = "smol"
MAX_TOKENS = 200
PROMPTS = [
    "Describe a fictional city as JSON.",
    "Give me a recipe as JSON.",
    "Describe a book you like as JSON.",
    "Describe a planet as JSON.",
    "Describe a cat as JSON.",
]
SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 40},
        "summary": {"type": "string", "maxLength": 120},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 16}, "maxItems": 4},
        "rating": {"type": "integer", "minimum": 0},
        "recommended": {"type": "boolean"},
    },
    "required": ["name", "summary", "tags", "rating", "recommended"],
    "additionalProperties": False,
}


def wide_schema(round_number):
    """A 50-property object: strings, integers, booleans, enums, nested objects and arrays."""
    properties = {}
    for i in range(50):
        kind = i % 5
        if kind == 0:
            schema = {"type": "string", "maxLength": 12}
        elif kind == 1:
            schema = {"type": "integer", "minimum": 0}
        elif kind == 2:
            schema = {"enum": ["a", "b", "c"]}
        elif kind == 3:
            schema = {"type": "object", "properties": {"x": {"type": "boolean"}}, "required": ["x"]}
        else:
            schema = {"type": "array", "items": {"type": "number"}, "maxItems": 2}
        properties[f"field_{i}" if i else f"round_{round_number}"] = schema
    return {"type": "object", "properties": properties, "required": list(properties)[:10]}


def body(prompt, schema=None, max_tokens=MAX_TOKENS):
    request = {"messages": [{"role": "user", "text": prompt}], "sampling": {"temperature": 0}, "maxTokens": max_tokens}
    if schema is not None:
        request["responseFormat"] = {"kind": "jsonSchema", "schema": json.dumps(schema)}
    return request


def rate(result):
    timings = result["timings"]
    return timings["decodeTokens"] * 1000 / timings["decodeMs"] if timings.get("decodeMs") else None


def measure(runner, model_path, work, rounds, procs):
    manifest = os.path.join(work, "structured.yaml")
    with open(manifest, "w") as f:
        f.write(f"""apiVersion: rockchipllama/v1
kind: Device
metadata: {{name: bench-structured}}
device: {{soc: generic, clocks: untouched}}
models:
  - name: {MODEL}
    source: {{path: {model_path}}}
    context: 4096
    llamacpp: {{threads: 2, parallel: 1}}
endpoints:
  - {{name: local, listen: "127.0.0.1:{PORT}", apis: [openai]}}
""")
    validate(runner, manifest)
    state = os.path.join(work, "state")
    log = os.path.join(work, "apply.log")
    apply = procs.spawn([runner, "apply", manifest, "--state-dir", state, "--readiness-timeout", "300"], log)
    try:
        wait_for_gateway(PORT, apply, log, attempts=3000)
        socket_path = os.path.join(state, "workers", f"{MODEL}.sock")
        generate(socket_path, body("Say hi."))  # warm-up, not counted
        wait_idle(float(os.environ.get("BENCH_IDLE_TIMEOUT", 900)), "before the structured-output rounds")
        free, constrained, unparsed = [], [], []
        for i in range(rounds):
            for prompt in PROMPTS:
                runs = [("free", None), ("constrained", SCHEMA)]
                for kind, schema in runs if i % 2 == 0 else reversed(runs):
                    result = generate(socket_path, body(prompt, schema))
                    (constrained if schema else free).append(rate(result))
                    if schema:
                        try:
                            json.loads(result["text"])
                        except ValueError:
                            unparsed.append(result["text"])
        new, cached = [], []
        for i in range(rounds * 4):
            schema = wide_schema(i)
            first = generate(socket_path, body("Fill in the form as JSON.", schema, max_tokens=1))
            again = generate(socket_path, body("Fill in the form as JSON.", schema, max_tokens=1))
            new.append(first["timings"]["queueMs"])
            cached.append(again["timings"]["queueMs"])
    finally:
        procs.stop(apply)
    return {"free": [r for r in free if r], "constrained": [r for r in constrained if r], "unparsed": unparsed,
            "queue_new_ms": new, "queue_cached_ms": cached}


def report(result):
    med = statistics.median
    free, constrained = med(result["free"]), med(result["constrained"])
    new, cached = med(result["queue_new_ms"]), med(result["queue_cached_ms"])
    compile_ms = new - cached
    ratio = constrained / free
    targets = {"decode": ratio >= 0.9, "compile": compile_ms <= 5, "parsed": not result["unparsed"]}
    print_table(("measurement", "value", "target", ""), [
        ("decode, free (tokens/s)", f"{free:.1f}", "", ""),
        ("decode, under the schema (tokens/s)", f"{constrained:.1f}", "", ""),
        ("ratio", f"{ratio:.3f}x", ">= 0.90x", "PASS" if targets["decode"] else "MISS"),
        ("constrained answers that do not parse", str(len(result["unparsed"])), "0",
         "PASS" if targets["parsed"] else "MISS"),
        ("queue time, new 50-property schema (ms)", f"{new:.2f}", "", ""),
        ("queue time, same schema again (ms)", f"{cached:.2f}", "", ""),
        ("cost of a new schema (ms)", f"{compile_ms:.2f}", "<= 5", "PASS" if targets["compile"] else "MISS"),
    ])
    print("BENCH_JSON " + json.dumps({"ratio": ratio, "compile_ms": compile_ms, "targets": targets, **result}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runner")
    parser.add_argument("model_path")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="rl-structured.")
    procs = Processes()
    failed = True
    try:
        runner = copy_runner(os.path.abspath(args.runner), work)
        report(measure(runner, os.path.abspath(args.model_path), work, args.rounds, procs))
        failed = False
    finally:
        procs.stop_all()
        if args.keep or failed:
            print(f"structured: files kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
