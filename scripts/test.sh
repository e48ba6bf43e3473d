#!/usr/bin/env bash
# `swift test` with its output also kept in .build/test-output.log. A failed run ends by repeating the lines
# that name the failures (and compiler errors): CI shows only the tail of the output, and with tests running
# in parallel the failing one is usually far from it.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p .build
log=.build/test-output.log
"${SWIFT:-swift}" test "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
    echo "---- swift test failed (exit $status); the failures, from $log: ----"
    grep -E '✘|error:' "$log" | cut -c1-600 | head -n 40
fi
exit "$status"
