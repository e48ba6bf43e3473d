#!/usr/bin/env bash
# Contract smoke test of RKNNSim, the librknnrt.so simulator: builds it if needed (scripts/build-rknnsim.sh),
# writes two random tiny projectors with scripts/tiny-vlm.py (one for the SmolLM2 test model, one for a text
# model of another width), compiles Tests/RKNNSimSmoke/smoke.c and runs it: the vendor demo's call sequence plus
# the error codes of bad calls and bad model files (Sources/RKNNSim/README.md). When RKLLMSim's 1.3 build exists,
# the same process first loads the test model through it, as the demo loads its LLM before the encoder.
#
#   scripts/rknnsim-smoke.sh
#
# Prints the check groups and a one-line summary; exits non-zero on any failure (the runtime's stderr is then
# shown). Inputs: RKNNSIM_OUT_DIR (where the library is built, default .deps/rknnsim), RKNNSIM_THREADS (default
# 1 here), RKNNSIM_SMOKE_RKLLM (a librkllmrt.so to load alongside; default .deps/rkllmsim/1.3/librkllmrt.so if
# present, empty to skip), CC.
set -Eeuo pipefail

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

die() {
    echo "rknnsim-smoke: $*" >&2
    exit 1
}

"$RL_ROOT/scripts/build-rknnsim.sh"
lib=${RKNNSIM_OUT_DIR:-$RL_DEPS/rknnsim}/librknnrt.so
[[ -f $RUNNER_TEST_MODEL ]] || die "$RUNNER_TEST_MODEL missing; run \`scripts/setup.sh model\`"
[[ -x $RL_PYTHON ]] || die "$RL_PYTHON missing; run \`scripts/setup.sh\`"

work=$(mktemp -d "${TMPDIR:-/tmp}/rknnsim-smoke.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

# Projector A feeds the test model (64x64 input, 4 tokens of 576); B feeds tiny-vlm's own 64-wide model.
"$RL_PYTHON" "$RL_ROOT/scripts/tiny-vlm.py" "$work/a" --llm "$RUNNER_TEST_MODEL" >"$work/a.json" ||
    die "scripts/tiny-vlm.py failed (needs gguf and numpy: scripts/setup.sh clients)"
"$RL_PYTHON" "$RL_ROOT/scripts/tiny-vlm.py" "$work/b" >"$work/b.json" || die "scripts/tiny-vlm.py failed"
# The descriptor: the projector relative to the descriptor's directory, the text model absolute.
printf 'RKNNSIM 1\nprojector=mmproj.gguf\ntext_model=%s\n' "$RUNNER_TEST_MODEL" >"$work/a/encoder.rknn"

CC=${CC:-$(command -v gcc || command -v cc)}
smoke=$work/smoke
"$CC" -std=c11 -O1 -g -Wall -Wextra -Werror -pthread -I"$RL_ROOT/Sources/CRKNN" -I"$RL_ROOT/Sources/CRKLLM" \
    "$RL_ROOT/Tests/RKNNSimSmoke/smoke.c" -o "$smoke" -ldl -lm

rkllm=${RKNNSIM_SMOKE_RKLLM-$RL_DEPS/rkllmsim/1.3/librkllmrt.so}
[[ -n $rkllm && ! -f $rkllm ]] && rkllm=
export RKNNSIM_THREADS=${RKNNSIM_THREADS:-1}

status=0
"$smoke" "$lib" "$work/a/encoder.rknn" "$work/a/mmproj.gguf" "$RUNNER_TEST_MODEL" "$work/b/mmproj.gguf" \
    ${rkllm:+"$rkllm"} >"$work/out.txt" 2>"$work/err.txt" || status=$?
grep -v '^rknnsim-smoke:' "$work/out.txt" || true
summary=$(grep '^rknnsim-smoke:' "$work/out.txt" || true)
summary=${summary:-"rknnsim-smoke: FAILED: the driver exited with status $status before its summary"}
if ((status == 0)) && ! grep -q '^I RKNN: \[..:..:..\....\] RKNN Runtime Information, librknnrt version: 2.3.2 (RKNNSim)' "$work/err.txt"; then
    status=1
    summary="rknnsim-smoke: FAILED: no vendor-style \"I RKNN: [...] RKNN Runtime Information\" line on stderr (${summary#rknnsim-smoke: })"
fi
if ((status != 0)); then
    echo "--- stderr (FAIL lines first, then the last 40 lines) ---" >&2
    grep '^FAIL' "$work/err.txt" >&2 || true
    tail -n 40 "$work/err.txt" >&2
fi
echo "$summary (RKNNSIM_THREADS=$RKNNSIM_THREADS${rkllm:+, with RKLLMSim})"
((status == 0)) || exit 1
