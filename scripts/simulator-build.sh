#!/usr/bin/env bash
# What scripts/build-rkllmsim.sh and scripts/build-rknnsim.sh share, sourced by both after they set SIMULATOR
# (the setup step's name: rkllmsim, rknnsim): scripts/env.sh's variables; `fail` (setup's failure line, exit 1);
# `rel` (a path relative to the repository); CC (gcc, else cc); the check that llama.cpp is installed; and
# `stale OUT` (true if OUT is missing or older than one of INPUTS, an array the caller sets before calling it).

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

fail() {
    echo "setup: ${SIMULATOR:?} failed: $*" >&2
    exit 1
}
rel() { echo "${1#"$RL_ROOT"/}"; }

CC=${CC:-$(command -v gcc || command -v cc || true)}
[[ -n $CC ]] || fail "no C compiler (gcc or cc; set CC)"
[[ -n $RL_LLAMA_LIB_DIR && -f $RL_LLAMA_LIB_DIR/libllama.so && -f $RL_LLAMA_INCLUDE_DIR/llama.h ]] ||
    fail "libllama.so / llama.h not found under .deps/venv; run \`scripts/setup.sh llama\` first"

stale() {
    local out=$1 f
    [[ -f $out ]] || return 0
    for f in "${INPUTS[@]}"; do
        [[ $f -nt $out ]] && return 0
    done
    return 1
}
