#!/usr/bin/env bash
# Stops the test servers started by tests/servers/start_*.sh: kills exactly the pids listed in
# $TEST_TMP/*.pids (one per line), waits for them, and removes the pid files.
set -u
: "${TEST_TMP:?TEST_TMP must point at the scratch directory the servers were started with}"
shopt -s nullglob
for f in "$TEST_TMP"/*.pids; do
  while read -r pid; do
    [ -n "$pid" ] || continue
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  done <"$f"
  rm -f "$f"
done
