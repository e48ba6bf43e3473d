#!/usr/bin/env bash
# Contract smoke test of AXSim, the simulator of AXERA ax-llm's LLM servers (Sources/AXSim/README.md):
# Tests/AXSimSmoke/smoke.py builds throw-away model directories (placeholder .axmodel/.bin files and a
# config.json whose "axsim" block points at the SmolLM2 test model), starts the tokenizer service, two legacy
# servers (main_api_ax650, main_api_axcl_aarch64) and two `axllm serve` servers on free ports, and checks
# every route and quirk: init refusals, the reset/generate poll race, "llm is running", /api/stop, KV prefix
# reuse, persisted sampling, the context-full text, /api/chat, OpenAI answers and streams, the serial queue
# and its 503, disconnects, context_length_exceeded, and clean SIGTERM/SIGINT exits.
#
#   scripts/axsim-smoke.sh
#
# Prints one line per check group and a summary `axsim-smoke: N checks passed` (or `FAILED ...`); exits
# non-zero on any failure (the servers' stderr is then shown). Inputs: RL_PYTHON and RUNNER_TEST_MODEL from
# scripts/env.sh; AXSIM_PYTHON (the Python the launchers run, default the repository venv); TMPDIR.
set -Eeuo pipefail

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

die() {
    echo "axsim-smoke: $*" >&2
    exit 1
}

[[ -f $RUNNER_TEST_MODEL ]] || die "$RUNNER_TEST_MODEL missing; run \`scripts/setup.sh model\`"
[[ -x $RL_PYTHON ]] || die "$RL_PYTHON missing; run \`scripts/setup.sh\`"

work=$(mktemp -d "${TMPDIR:-/tmp}/axsim-smoke.XXXXXX")
pids=$work/pids
: >"$pids"
# Whatever the driver started and left running (it stops its servers itself unless it died) is killed by
# PID, then the work directory goes.
cleanup() {
    local pid
    while read -r pid; do
        kill -KILL "$pid" 2>/dev/null || true
    done <"$pids"
    rm -rf -- "$work"
}
trap cleanup EXIT

status=0
"$RL_PYTHON" "$RL_ROOT/Tests/AXSimSmoke/smoke.py" "$work" "$RL_ROOT/Sources/AXSim/bin" "$RUNNER_TEST_MODEL" \
    "$pids" >"$work/out.txt" 2>"$work/err.txt" || status=$?
grep -v '^axsim-smoke:' "$work/out.txt" || true
summary=$(grep '^axsim-smoke:' "$work/out.txt" || true)
summary=${summary:-"axsim-smoke: FAILED: the driver exited with status $status before its summary"}
if ((status != 0)); then
    echo "--- driver stderr ---" >&2
    cat "$work/err.txt" >&2
    for log in "$work"/*.err; do
        echo "--- $(basename "$log") (last 15 lines) ---" >&2
        tail -n 15 "$log" >&2
    done
fi
echo "$summary"
((status == 0)) || exit 1
