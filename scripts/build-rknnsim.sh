#!/usr/bin/env bash
# Builds RKNNSim, the SIMULATOR of Rockchip's RKNN runtime librknnrt.so for a vision encoder, over llama.cpp's
# libmtmd (Sources/RKNNSim/README.md):
#
#   .deps/rknnsim/librknnrt.so     reports itself as librknnrt 2.3.2 (RKNNSim)
#
# Linked against the libllama.so / libmtmd.so that `scripts/setup.sh llama` installed (rpath to their directory);
# exports only the rknn_* symbols. Skipped while the output is newer than every input. Prints one line,
# `setup: rknnsim: ok|skipped (...)`, like the setup steps; failure prints `setup: rknnsim failed: <why>` on
# stderr and exits non-zero. CC picks the compiler (default gcc, else cc); RKNNSIM_OUT_DIR builds elsewhere
# (default .deps/rknnsim).
set -Eeuo pipefail

SIMULATOR=rknnsim
# shellcheck source=scripts/simulator-build.sh
. "$(dirname "${BASH_SOURCE[0]}")/simulator-build.sh"
[[ -f $RL_LLAMA_LIB_DIR/libmtmd.so && -f $RL_LLAMA_INCLUDE_DIR/mtmd.h ]] ||
    fail "libmtmd.so / mtmd.h not found next to libllama (llama.cpp built without its multimodal library?)"

SRC_DIR=$RL_ROOT/Sources/RKNNSim
ABI_HEADER=$RL_ROOT/Sources/CRKNN/rknn_abi.h
SOURCES=("$SRC_DIR"/*.c)
INPUTS=("${SOURCES[@]}" "$SRC_DIR"/*.h "$ABI_HEADER" "$RL_LLAMA_INCLUDE_DIR/llama.h" "$RL_LLAMA_INCLUDE_DIR/mtmd.h"
    "$RL_LLAMA_INCLUDE_DIR/gguf.h" "$RL_LLAMA_LIB_DIR/libllama.so" "$RL_LLAMA_LIB_DIR/libmtmd.so" "${BASH_SOURCE[0]}"
    "$RL_ROOT/scripts/simulator-build.sh")

dir=${RKNNSIM_OUT_DIR:-$RL_DEPS/rknnsim}
out=$dir/librknnrt.so
started=$SECONDS

if ! stale "$out"; then
    echo "setup: rknnsim: skipped ($(rel "$out") up to date, $((SECONDS - started))s)"
    exit 0
fi
mkdir -p "$dir"
tmp=$out.tmp.$$
log=$dir/build.log
trap 'rm -f -- "$tmp"' EXIT
# gguf_* (reading clip.vision.image_size) lives in libggml-base, which --no-undefined wants named.
if ! "$CC" -std=c11 -O2 -g -fPIC -fvisibility=hidden -pthread -Wall -Wextra -Werror \
    -I"$RL_ROOT/Sources/CRKNN" -I"$RL_LLAMA_INCLUDE_DIR" \
    "${SOURCES[@]}" -shared -o "$tmp" \
    -L"$RL_LLAMA_LIB_DIR" -lmtmd -lllama -lggml-base -Wl,-rpath,"$RL_LLAMA_LIB_DIR" -Wl,--no-undefined -lm \
    >"$log" 2>&1; then
    echo "--- $(rel "$log") ---" >&2
    tail -n 30 "$log" >&2
    fail "compiling Sources/RKNNSim failed"
fi
# Exactly the entry points of rknn_abi.h leave the library.
exported=$(nm -D --defined-only "$tmp" | awk '$2 ~ /^[TWDBRV]$/ {print $3}' | sort | tr '\n' ' ')
want="rknn_destroy rknn_init rknn_inputs_set rknn_outputs_get rknn_outputs_release rknn_query rknn_run rknn_set_core_mask "
[[ $exported == "$want" ]] || fail "the library exports [${exported% }], expected [${want% }]"
grep -aq "librknnrt version: 2.3.2 (RKNNSim)" "$tmp" || fail "the build lacks its version string"
mv -f -- "$tmp" "$out"
echo "setup: rknnsim: ok ($(rel "$out"), librknnrt 2.3.2 (RKNNSim), $((SECONDS - started))s)"
