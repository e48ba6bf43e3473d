#!/usr/bin/env bash
# Contract smoke test of RKLLMSim, the librkllmrt.so simulator: builds both ABI builds if needed
# (scripts/build-rkllmsim.sh), compiles Tests/RKLLMSimSmoke/smoke.c and runs it against each build with the
# SmolLM2 test model, with RKLLMSIM_TRACE on; then checks that every trace line is one JSON object.
#
#   scripts/rkllmsim-smoke.sh [1.2|1.3 ...]     default: both
set -Eeuo pipefail

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

"$RL_ROOT/scripts/build-rkllmsim.sh"
[[ -f $RUNNER_TEST_MODEL ]] || { echo "rkllmsim-smoke: $RUNNER_TEST_MODEL missing; run \`scripts/setup.sh model\`" >&2; exit 1; }

out=$RL_DEPS/rkllmsim/smoke
CC=${CC:-$(command -v gcc || command -v cc)}
"$CC" -std=c11 -O1 -g -Wall -Wextra -Werror -pthread -I"$RL_ROOT/Sources/CRKLLM" \
    "$RL_ROOT/Tests/RKLLMSimSmoke/smoke.c" -o "$out" -ldl -lm

# One llama.cpp thread: on a shared 2-core machine two threads spin-wait on each other when one is preempted.
export RKLLMSIM_THREADS=${RKLLMSIM_THREADS:-1}

python=${RL_PYTHON:-python3}
[[ -x $python ]] || python=python3
status=0
for version in "${@:-1.2 1.3}"; do
    for v in $version; do
        abi=${v/./}
        trace=$(mktemp "${TMPDIR:-/tmp}/rkllmsim-trace.XXXXXX")
        if "$out" "$RL_DEPS/rkllmsim/$v/librkllmrt.so" "$RUNNER_TEST_MODEL" "$abi" "$trace"; then
            if "$python" - "$trace" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
calls = {}
for n, line in enumerate(lines, 1):
    obj = json.loads(line)  # raises on a malformed line
    key = obj.get("call") or "event:" + obj["event"]
    calls[key] = calls.get(key, 0) + 1
for need in ("rkllm_init", "rkllm_run", "rkllm_run_async", "event:run_end", "rkllm_abort", "rkllm_set_function_tools",
             "rkllm_clear_kv_cache", "rkllm_load_prompt_cache", "rkllm_release_prompt_cache", "rkllm_set_chat_template",
             "rkllm_load_lora", "rkllm_destroy"):
    assert need in calls, f"trace has no {need} line"
ends = [json.loads(l) for l in lines if '"event":"run_end"' in l]
assert any(e["aborted"] for e in ends) and any(e["paused"] for e in ends), "run_end aborted/paused never true"
print(f"trace: {len(lines)} JSON lines, " + ", ".join(f"{k} {v}" for k, v in sorted(calls.items())))
PY
            then rm -f -- "$trace"; else echo "rkllmsim-smoke: bad trace $trace" >&2; status=1; fi
        else
            status=1
            echo "rkllmsim-smoke: $v FAILED (trace kept: $trace)" >&2
        fi
    done
done
exit $status
