#!/usr/bin/env bash
# The one place that names what `scripts/setup.sh` puts under .deps/ and the variables the build, the tests
# and the runner read. Three ways to use it:
#
#   . scripts/env.sh                 # from bash: define and export the variables in this shell
#   scripts/env.sh swift test        # run one command with them exported (what the Makefile does)
#   eval "$(scripts/env.sh)"         # print `export` lines, e.g. for an interactive shell
#
# Exported:
#   PKG_CONFIG_PATH       .deps/pkgconfig first, so SwiftPM's CLlama module finds our llama.pc (headers only)
#   RUNNER_LLAMA_LIBRARY  absolute path of libllama.so (opened with dlopen; ggml libraries sit next to it)
#   RUNNER_TEST_MODEL     absolute path of the SmolLM2-135M-Instruct Q4_1 GGUF used by tests and dev.yaml
#
# Also defined (not exported): RL_ROOT, RL_DEPS, RL_VENV, RL_PYTHON, RL_SITE_PACKAGES, RL_LLAMA_LIB_DIR,
# RL_LLAMA_INCLUDE_DIR, RL_PKGCONFIG_DIR, RL_WHEELS_DIR, RL_MODELS_DIR, RL_MODEL_FILE, rl_resolve_venv.

# shellcheck disable=SC2034 # the RL_* variables are for the scripts that source this file
RL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
RL_DEPS=$RL_ROOT/.deps
RL_VENV=$RL_DEPS/venv
RL_PYTHON=$RL_VENV/bin/python
RL_PKGCONFIG_DIR=$RL_DEPS/pkgconfig
RL_WHEELS_DIR=$RL_DEPS/wheels
RL_MODELS_DIR=$RL_DEPS/models
RL_MODEL_FILE=SmolLM2-135M-Instruct.Q4_1.gguf

# The venv's site-packages directory is asked of the venv's own python (never a hard-coded python3.X).
# llama-cpp-python installs llama.cpp's CMake install tree at the root of it: lib/ and include/.
# Before the venv exists these stay empty and RUNNER_LLAMA_LIBRARY is unset; setup.sh calls this again
# once it has created the venv.
rl_resolve_venv() {
    RL_SITE_PACKAGES='' RL_LLAMA_LIB_DIR='' RL_LLAMA_INCLUDE_DIR=''
    if [[ -x $RL_PYTHON ]] &&
        RL_SITE_PACKAGES=$("$RL_PYTHON" -c 'import sysconfig; print(sysconfig.get_path("platlib"))' 2>/dev/null) &&
        [[ -n $RL_SITE_PACKAGES ]]; then
        RL_LLAMA_LIB_DIR=$RL_SITE_PACKAGES/lib
        RL_LLAMA_INCLUDE_DIR=$RL_SITE_PACKAGES/include
        export RUNNER_LLAMA_LIBRARY=$RL_LLAMA_LIB_DIR/libllama.so
    else
        RL_SITE_PACKAGES=
        unset RUNNER_LLAMA_LIBRARY
    fi
}
rl_resolve_venv

case ":${PKG_CONFIG_PATH:-}:" in
    *":$RL_PKGCONFIG_DIR:"*) ;;
    *) PKG_CONFIG_PATH=$RL_PKGCONFIG_DIR${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH} ;;
esac
RUNNER_TEST_MODEL=$RL_MODELS_DIR/$RL_MODEL_FILE
export PKG_CONFIG_PATH RUNNER_TEST_MODEL

# Executed rather than sourced: run the given command, or print the exports.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    if (($# > 0)); then
        exec "$@"
    fi
    for _rl_var in PKG_CONFIG_PATH RUNNER_LLAMA_LIBRARY RUNNER_TEST_MODEL; do
        if [[ -v $_rl_var ]]; then
            printf 'export %s=%q\n' "$_rl_var" "${!_rl_var}"
        else
            # shellcheck disable=SC2016 # the backquotes are text
            printf '# %s: unknown until `make setup` has created .deps/venv\n' "$_rl_var"
        fi
    done
fi
