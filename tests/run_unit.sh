#!/usr/bin/env bash
# Runs every unit-test binary given (Check suites); prints one closing line.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
for bin in "$@"; do run_counted "$(basename "$bin")" "$bin"; done
echo "unit: $TOTAL_PASSED passed, $TOTAL_FAILED failed"
[ "$TOTAL_FAILED" -eq 0 ]
