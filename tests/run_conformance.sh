#!/usr/bin/env bash
# Runs the storage conformance suite against every driver: a temp directory, s3rver behind the
# SigV4-verifying proxy, azurite, and the fake GCS server. Each server is started by
# tests/servers/start_<name>.sh, which writes $TEST_TMP/<name>.env.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
BUILD=${BUILD:-build}
export TEST_TMP=${TEST_TMP:-$(mktemp -d /tmp/backupd-conf.XXXXXX)}
cleanup() { bash tests/servers/stop_servers.sh 2>/dev/null; rm -rf "$TEST_TMP"; }
trap cleanup EXIT
BIN=$BUILD/tests/storage_conformance

run_counted "conformance file" env STORAGE_TEST_URL="file://$TEST_TMP/local-repo" BACKUP_PART_SIZE=256KiB "$BIN"
for drv in s3 azure gcs; do
  start=tests/servers/start_$drv.sh
  [ -f "$start" ] || { echo "conformance $drv: no $start yet"; TOTAL_FAILED=$((TOTAL_FAILED+1)); continue; }
  if ! bash "$start" >"$TEST_TMP/$drv-start.log" 2>&1; then
    cat "$TEST_TMP/$drv-start.log"; echo "conformance $drv: server did not start"; TOTAL_FAILED=$((TOTAL_FAILED+1)); continue
  fi
  run_counted "conformance $drv" bash -c ". '$TEST_TMP/$drv.env' && BACKUP_PART_SIZE=\${CONFORMANCE_PART_SIZE:-256KiB} exec '$BIN'"
done
echo "conformance: $TOTAL_PASSED passed, $TOTAL_FAILED failed"
[ "$TOTAL_FAILED" -eq 0 ]
