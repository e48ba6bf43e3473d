#!/usr/bin/env bash
# Builds RKLLMSim, the SIMULATOR of Rockchip's librkllmrt.so over llama.cpp (Sources/RKLLMSim/README.md),
# once per runtime ABI:
#
#   .deps/rkllmsim/1.2/librkllmrt.so   runtime 1.2.1-1.2.3 ABI (reports itself as 1.2.3)
#   .deps/rkllmsim/1.3/librkllmrt.so   runtime 1.3.0 ABI
#
# Each is linked against the libllama.so that `scripts/setup.sh llama` installed (rpath to its directory) and
# exports only the rkllm_* symbols. A build is skipped while its output is newer than every input. Prints one
# line per build, `setup: rkllmsim: ok|skipped (...)`, like the setup steps; failure prints
# `setup: rkllmsim failed: <why>` on stderr and exits non-zero. CC picks the compiler (default gcc, else cc).
# RKLLMSIM_OUT_DIR replaces .deps/rkllmsim as the output root (for development builds that must not replace
# the libraries tests are loading): the builds go to $RKLLMSIM_OUT_DIR/1.2 and $RKLLMSIM_OUT_DIR/1.3.
set -Eeuo pipefail

SIMULATOR=rkllmsim
# shellcheck source=scripts/simulator-build.sh
. "$(dirname "${BASH_SOURCE[0]}")/simulator-build.sh"

SRC_DIR=$RL_ROOT/Sources/RKLLMSim
OUT_ROOT=${RKLLMSIM_OUT_DIR:-$RL_DEPS/rkllmsim}
ABI_HEADER=$RL_ROOT/Sources/CRKLLM/rkllm_abi.h
SOURCES=("$SRC_DIR"/*.c)
INPUTS=("${SOURCES[@]}" "$SRC_DIR"/*.h "$ABI_HEADER" "$RL_LLAMA_INCLUDE_DIR/llama.h" "$RL_LLAMA_LIB_DIR/libllama.so"
    "${BASH_SOURCE[0]}" "$RL_ROOT/scripts/simulator-build.sh")

build() {
    local abi=$1 version=$2 dir=$OUT_ROOT/$3
    local out=$dir/librkllmrt.so started=$SECONDS
    if ! stale "$out"; then
        echo "setup: rkllmsim: skipped ($(rel "$out") up to date, runtime $version ABI, $((SECONDS - started))s)"
        return
    fi
    mkdir -p "$dir"
    local tmp=$out.tmp.$$ log=$dir/build.log
    # -z nodelete: a detached async run thread or a llama.cpp callback must never outlive the code it runs.
    if ! "$CC" -std=c11 -O2 -g -fPIC -fvisibility=hidden -pthread -Wall -Wextra -Werror \
        -DRKLLMSIM_ABI="$abi" -I"$RL_ROOT/Sources/CRKLLM" -I"$RL_LLAMA_INCLUDE_DIR" \
        "${SOURCES[@]}" -shared -o "$tmp" \
        -L"$RL_LLAMA_LIB_DIR" -lllama -Wl,-rpath,"$RL_LLAMA_LIB_DIR" -Wl,-z,nodelete -Wl,--no-undefined -lm \
        >"$log" 2>&1; then
        rm -f -- "$tmp"
        echo "--- $(rel "$log") ---" >&2
        tail -n 30 "$log" >&2
        fail "compiling the runtime $version ABI build failed"
    fi
    # The Swift engine tells the builds apart by this string in the file; make sure each has only its own.
    local other
    [[ $version == 1.3.0 ]] && other=1.2.3 || other=1.3.0
    grep -aq "rkllm-runtime version: $version" "$tmp" || { rm -f -- "$tmp"; fail "$version build lacks its version string"; }
    if grep -aq "rkllm-runtime version: $other" "$tmp"; then
        rm -f -- "$tmp"
        fail "$version build contains the $other version string"
    fi
    mv -f -- "$tmp" "$out"
    echo "setup: rkllmsim: ok ($(rel "$out"), runtime $version ABI, $((SECONDS - started))s)"
}

build 12 1.2.3 1.2
build 13 1.3.0 1.3
