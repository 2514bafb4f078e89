#!/usr/bin/env bash
# Every test: unit suites, storage conformance per driver, then end-to-end scripts
# (tests/e2e/*.sh). Prints one closing "N passed, M failed" line; exits non-zero on failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
. tests/lib.sh
no_e2e=0; [ "${1:-}" = "--no-e2e" ] && no_e2e=1
started=$(date +%s)
for bin in "$BUILD"/tests/*_test; do
  [ -x "$bin" ] && run_counted "unit $(basename "$bin")" "$bin"
done
export TEST_TMP=$(mktemp -d /tmp/backupd-tests.XXXXXX)
run_counted "conformance" bash tests/run_conformance.sh
if [ $no_e2e -eq 0 ]; then
  for t in tests/e2e/*.sh; do
    [ -f "$t" ] || continue
    run_counted "e2e $(basename "$t")" env TEST_TMP="$(mktemp -d /tmp/backupd-e2e.XXXXXX)" bash "$t"
  done
fi
rm -rf "$TEST_TMP"
echo
echo "suite took $(( $(date +%s) - started )) s${FAILED_NAMES:+; failed:$FAILED_NAMES}"
echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
[ "$TOTAL_FAILED" -eq 0 ]
