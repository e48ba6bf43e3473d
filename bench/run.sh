#!/usr/bin/env bash
# The worker benchmark: `runner worker` against the same libllama driven directly, side by side
# in one run, printed as a table of ratios plus one `BENCH_JSON {...}` line.
#
#   make bench                 # builds the runner first; runs this through scripts/env.sh
#   bash bench/run.sh          # same, if .build/release/runner exists (built with `make build` if not)
#
# Environment:
#   BENCH_IDLE_TIMEOUT  seconds (default 900) to wait, before each phase, for no other job to use the CPU;
#                       0 measures at once. The report prints the CPU others used during every phase.
#   BENCH_KEEP=1        keep the temp directory (manifests, worker logs, per-phase JSON) and print its path.
#
# Order: the llama.cpp memory probe; one worker with the direct baseline (bench/direct.py, started by bench.py)
# for 1 and 4 streams, run by run in rotating order so drift on a shared machine hits every side alike; three
# fresh workers for the cold/warm long-prompt TTFT; three fresh preset workers. Only one thing measures at a
# time (the machine has 2 cores), and each phase first waits for other jobs to leave the CPU.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
if [[ -z ${RUNNER_TEST_MODEL:-} || -z ${RUNNER_LLAMA_LIBRARY:-} ]]; then
    # shellcheck disable=SC1091 # scripts/env.sh is checked on its own
    . scripts/env.sh
fi
PYTHON=$ROOT/.deps/venv/bin/python
RUNNER=$ROOT/.build/release/runner
BENCH=$ROOT/bench/bench.py

die() {
    echo "bench: error: $*" >&2
    exit 1
}
[[ -x $PYTHON ]] || die "$PYTHON is missing; run \`make setup\`"
[[ -f ${RUNNER_TEST_MODEL:-} ]] || die "the model ${RUNNER_TEST_MODEL:-(RUNNER_TEST_MODEL unset)} is missing; run \`make setup\`"
if [[ ! -x $RUNNER ]]; then
    echo "bench: $RUNNER is missing; running \`make build\`" >&2
    make -C "$ROOT" build
fi

# Both sides must load the very same libllama; llama_cpp loads the one next to its package.
py_lib=$("$PYTHON" -c 'import os, llama_cpp; print(os.path.realpath(os.path.join(os.path.dirname(llama_cpp.__file__), "..", "lib", "libllama.so")))')
[[ $py_lib == "$(realpath "$RUNNER_LLAMA_LIBRARY")" ]] ||
    die "llama_cpp uses $py_lib but the worker would load $RUNNER_LLAMA_LIBRARY"

# A short path: Unix socket paths are limited to 108 bytes.
WORK=$(mktemp -d -t rl-bench.XXXXXX)
RESULTS=$WORK/results
mkdir -p "$RESULTS"
# Others may rebuild .build/ while this runs; every worker of one run uses this copy of the binary.
cp "$RUNNER" "$WORK/runner"
RUNNER=$WORK/runner
WORKER_PID=

stop_worker() {
    [[ -n $WORKER_PID ]] || return 0
    local pid=$WORKER_PID
    WORKER_PID=
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    stop_worker
    if [[ -n ${BENCH_KEEP:-} || $status -ne 0 ]]; then
        echo "bench: files kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_worker MANIFEST NAME: a fresh state dir (no prompt caches, no slot history), then wait for /v1/health.
# Sets WORKER_PID and SOCKET.
start_worker() {
    local manifest=$1 name=$2
    local state=$WORK/state-$name log=$WORK/worker-$name.log
    SOCKET=$state/workers/bench.sock
    "$RUNNER" worker --model bench --manifest "$manifest" --state-dir "$state" >"$log" 2>&1 &
    WORKER_PID=$!
    "$PYTHON" "$BENCH" wait --socket "$SOCKET" --pid "$WORKER_PID" --log "$log" --timeout 180
}

# step LABEL: announce a phase, after waiting (bounded) until no other job uses the CPU.
step() {
    "$PYTHON" "$BENCH" idle --timeout "${BENCH_IDLE_TIMEOUT:-900}" --label "$*"
    echo "bench: $*" >&2
}

echo "bench: machine before the run: $(uptime)" >&2
ps -eo pid,pcpu,etime,comm --sort=-pcpu | awk 'NR > 1 && $2 > 10 { print "bench:   busy: " $0 }' >&2

"$PYTHON" "$BENCH" inputs --dir "$WORK" --model "$RUNNER_TEST_MODEL"

step "llama.cpp memory with the worker's context shape"
"$PYTHON" "$BENCH" memory --model "$RUNNER_TEST_MODEL" --out "$RESULTS/memory.json"

step "direct baseline, worker 1 stream and worker 4 streams, interleaved"
start_worker "$WORK/bench.yaml" stream
"$PYTHON" "$BENCH" stream --socket "$SOCKET" --pid "$WORKER_PID" --model "$RUNNER_TEST_MODEL" --out "$RESULTS/stream.json"
stop_worker

# measure_fresh KIND MANIFEST REP LABEL: one fresh worker per attempt; bench.py exits 75 when another job
# disturbed the measurement (a cold TTFT needs a fresh worker, so the whole phase is redone), at most 3 times.
measure_fresh() {
    local kind=$1 manifest=$2 rep=$3 label=$4 attempt status
    for attempt in 1 2 3; do
        step "$label ($rep/3, fresh worker, attempt $attempt)"
        start_worker "$manifest" "$kind-$rep-$attempt"
        status=0
        "$PYTHON" "$BENCH" "$kind" --socket "$SOCKET" --pid "$WORKER_PID" --attempt "$attempt" \
            --out "$RESULTS/$kind-$rep.json" || status=$?
        stop_worker
        ((status == 75)) || return "$status"
    done
}

for rep in 1 2 3; do
    measure_fresh prefix "$WORK/bench.yaml" "$rep" "worker: long system prompt, cold then warm"
done
for rep in 1 2 3; do
    measure_fresh preset "$WORK/preset.yaml" "$rep" "worker: long system prompt as a prompt-cache preset"
done

"$PYTHON" "$BENCH" report --results "$RESULTS"
