# Shared helpers for the test runners (sourced). Counts results across Check binaries and
# scripts that print "N passed, M failed", so run_all.sh can print one closing line.
TOTAL_PASSED=${TOTAL_PASSED:-0}
TOTAL_FAILED=${TOTAL_FAILED:-0}
FAILED_NAMES=${FAILED_NAMES:-}

# run_counted NAME CMD...: runs CMD, echoes its output, adds its counts to the totals.
run_counted() {
  local name=$1; shift
  local out rc passed failed
  out=$(mktemp)
  echo "=== $name"
  "$@" >"$out" 2>&1; rc=$?
  cat "$out"
  if grep -qE 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$out"; then
    local line; line=$(grep -oE 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$out" | tail -1)
    local checks fails errs
    checks=$(echo "$line" | sed -E 's/Checks: ([0-9]+).*/\1/')
    fails=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
    errs=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
    failed=$((fails + errs)); passed=$((checks - failed))
  elif grep -qE '^[0-9]+ passed, [0-9]+ failed' "$out"; then
    local line; line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
    passed=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    failed=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
  else
    if [ $rc -eq 0 ]; then passed=1; failed=0; else passed=0; failed=1; fi
  fi
  if [ $rc -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
  TOTAL_PASSED=$((TOTAL_PASSED + passed)); TOTAL_FAILED=$((TOTAL_FAILED + failed))
  [ "$failed" -gt 0 ] && FAILED_NAMES="$FAILED_NAMES $name"
  rm -f "$out"
  return 0
}
