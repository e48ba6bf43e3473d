#!/usr/bin/env bash
# Contract smoke test of RKLLMSim, the librkllmrt.so simulator: builds both ABI builds if needed
# (scripts/build-rkllmsim.sh), compiles Tests/RKLLMSimSmoke/smoke.c and runs it against each build with the
# SmolLM2 test model, with RKLLMSIM_TRACE on; then checks that every trace line is one JSON object.
#
#   scripts/rkllmsim-smoke.sh [1.2|1.3 ...]     default: both
#
# RKLLMSIM_OUT_DIR (as for build-rkllmsim.sh) tests the builds under that directory instead of .deps/rkllmsim
# and puts the smoke binary there too.
set -Eeuo pipefail

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

"$RL_ROOT/scripts/build-rkllmsim.sh"
[[ -f $RUNNER_TEST_MODEL ]] || { echo "rkllmsim-smoke: $RUNNER_TEST_MODEL missing; run \`scripts/setup.sh model\`" >&2; exit 1; }

out_root=${RKLLMSIM_OUT_DIR:-$RL_DEPS/rkllmsim}
mkdir -p "$out_root"
out=$out_root/smoke
CC=${CC:-$(command -v gcc || command -v cc)}
"$CC" -std=c11 -O1 -g -Wall -Wextra -Werror -pthread -I"$RL_ROOT/Sources/CRKLLM" \
    "$RL_ROOT/Tests/RKLLMSimSmoke/smoke.c" -o "$out" -ldl -lm

# One llama.cpp thread: on a shared 2-core machine two threads spin-wait on each other when one is preempted.
export RKLLMSIM_THREADS=${RKLLMSIM_THREADS:-1}

python=${RL_PYTHON:-python3}
[[ -x $python ]] || python=python3
status=0
summary=()
for version in "${@:-1.2 1.3}"; do
    for v in $version; do
        abi=${v/./}
        trace=$(mktemp "${TMPDIR:-/tmp}/rkllmsim-trace.XXXXXX")
        log=$(mktemp "${TMPDIR:-/tmp}/rkllmsim-smoke.XXXXXX")
        "$out" "$out_root/$v/librkllmrt.so" "$RUNNER_TEST_MODEL" "$abi" "$trace" 2>&1 | tee "$log"
        rc=${PIPESTATUS[0]}
        # the driver's last line: "smoke X.Y: passed|FAILED, N checks, M failed"
        summary+=("$(grep -E "^smoke $v: (passed|FAILED)" "$log" | tail -n 1 | sed -E 's/^smoke ([0-9.]+): /\1 /')")
        rm -f -- "$log"
        if ((rc == 0)); then
            if "$python" - "$trace" "$v" <<'PY'
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
# multimodal inputs: the prompt, the counts, the image size and one embedding hash per image are recorded
images = [i for l in lines if '"call":"rkllm_run' in l for i in json.loads(l)["inputs"] if "image" in i]
assert images, "no multimodal input in the trace"
one = [i for i in images if i["image"]["n_image"] == 1 and i["image"]["hashes"]]
assert all(i["type"] == 3 and i["image"]["width"] == 224 and i["image"]["height"] == 224 for i in one), "image size"
assert any(i["text"] == "<image>What is in the image?" for i in one), "multimodal prompt text"
hashes = {i["image"]["hashes"][0] for i in one if i["image"]["n_image_tokens"] == 4}
two = [i["image"]["hashes"] for i in images if i["image"]["n_image"] == 2 and i["image"]["hashes"]]
assert two and all(len(h) == 2 and h[0] != h[1] and set(h) <= hashes for h in two), "two-image hashes"
assert any(i["image"]["start"] == "<img>" and i["image"]["content"] == "<empty_output>" for i in one), "tags"
if sys.argv[2] == "1.2":
    assert any(json.loads(l).get("img_start") == "<img>" for l in lines if '"call":"rkllm_init"' in l), "img_start"
else:
    assert any(i.get("video") for i in images), "video flag never traced"
print(f"trace: {len(lines)} JSON lines ({len(images)} multimodal inputs), "
      + ", ".join(f"{k} {v}" for k, v in sorted(calls.items())))
PY
            then rm -f -- "$trace"; else echo "rkllmsim-smoke: bad trace $trace" >&2; status=1; fi
        else
            status=1
            echo "rkllmsim-smoke: $v FAILED (trace kept: $trace)" >&2
        fi
    done
done
summary_text=$(IFS=';'; echo "${summary[*]}")
echo "rkllmsim-smoke: $( ((status == 0)) && echo passed || echo FAILED ) (${summary_text//;/; }) in ${SECONDS}s"
exit $status
