#!/usr/bin/env bash
# make demo: the main job on an embedded default. A throwaway PostgreSQL 15 (unprivileged user,
# loopback, temp dir) archives WAL with `backupctl wal-push` into a local directory repository;
# pgbench writes while `backupctl backup-push` takes a base backup over the replication protocol;
# a marker table gets timestamped rows; we pick a point T in the middle, restore with
# `backupctl backup-fetch --target-time T` into a new data directory, start it, and check that
# exactly the marker rows committed up to T are there. The last line says whether it matched.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SCALE=${DEMO_SCALE:-10}
export TEST_TMP=${TEST_TMP:-$(mktemp -d /tmp/backupd-demo.XXXXXX)}
. tests/pg/pg_harness.sh
trap pg_h_cleanup EXIT
say() { echo "demo: $*"; }
fail() { echo "demo: FAILED: $*"; echo "demo: restore matched: no"; exit 1; }
started=$(date +%s)

pg_h_setup || fail "cannot set up the PostgreSQL harness"
CTL=$(pg_h_install_bin "$PWD/$BUILD/bin/backupctl") || fail "cannot install backupctl"
REPO=$PG_H_ROOT/repo
pg_h_mkdir "$REPO" || fail "cannot create the repository"
URL="file://$REPO"
P1=$(pg_h_free_port)
pg_h_init primary "$CTL wal-push --repo '$URL' %p" >/dev/null || fail "initdb"
pg_h_start primary "$P1" || fail "start primary"
say "PostgreSQL 15 on 127.0.0.1:$P1, repository $URL"

pg_h_psql "$P1" "CREATE TABLE marker (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())" >/dev/null
pg_h_run_as "$PG_H_BIN/pgbench" -q -i -s "$SCALE" -h 127.0.0.1 -p "$P1" -U postgres postgres >/dev/null 2>&1 || fail "pgbench -i"
say "pgbench initialised (scale $SCALE)"

marker_rows() {   # N: insert N marker rows, one transaction each
  for _ in $(seq "$1"); do pg_h_psql "$P1" "INSERT INTO marker DEFAULT VALUES" >/dev/null; sleep 0.05; done
}
pg_h_run_as "$PG_H_BIN/pgbench" -h 127.0.0.1 -p "$P1" -U postgres -c 4 -j 2 -T 25 postgres >"$PG_H_ROOT/pgbench.log" 2>&1 &
PGBENCH_PID=$!
marker_rows 20
say "backup-push while pgbench runs"
pg_h_run_as "$CTL" backup-push --repo "$URL" -d "$(pg_h_conninfo "$P1")" || fail "backup-push"
marker_rows 20
sleep 1
T=$(pg_h_psql "$P1" "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')")
EXPECTED=$(pg_h_psql "$P1" "SELECT count(*) FROM marker")
sleep 1
marker_rows 20
wait $PGBENCH_PID
TOTAL=$(pg_h_psql "$P1" "SELECT count(*) FROM marker")
pg_h_psql "$P1" "SELECT pg_switch_wal()" >/dev/null
# wait until the segment holding T is archived
for _ in $(seq 60); do
  ready=$(find "$(pg_h_dir primary)/pg_wal/archive_status" -name '*.ready' | wc -l)
  [ "$ready" -eq 0 ] && break
  sleep 0.5
done
say "target T = $T: $EXPECTED of $TOTAL marker rows were committed before it"
pg_h_run_as "$CTL" backup-list --repo "$URL" || fail "backup-list"

RESTORE=$(pg_h_dir restored)
pg_h_run_as "$CTL" backup-fetch --repo "$URL" --target-time "$T" "$RESTORE" LATEST || fail "backup-fetch"
P2=$(pg_h_free_port)
pg_h_start restored "$P2" || fail "the restored server did not start (see $PG_H_ROOT/log)"
for _ in $(seq 120); do
  [ "$(pg_h_psql "$P2" "SELECT pg_is_in_recovery()" 2>/dev/null)" = "f" ] && break
  sleep 0.5
done
[ "$(pg_h_psql "$P2" "SELECT pg_is_in_recovery()")" = "f" ] || fail "recovery did not finish"
GOT=$(pg_h_psql "$P2" "SELECT count(*) FROM marker")
LAST=$(pg_h_psql "$P2" "SELECT max(at) <= '$T'::timestamptz FROM marker")
ACCOUNTS=$(pg_h_psql "$P2" "SELECT count(*) FROM pgbench_accounts")
say "restored server on 127.0.0.1:$P2: $GOT marker rows, pgbench_accounts has $ACCOUNTS rows"
if pg_h_run_as "$PG_H_BIN/pg_amcheck" --install-missing --heapallindexed -h 127.0.0.1 -p "$P2" -U postgres postgres >"$PG_H_ROOT/amcheck.log" 2>&1; then
  say "pg_amcheck: ok"
else
  cat "$PG_H_ROOT/amcheck.log"; fail "pg_amcheck reported problems"
fi
say "took $(( $(date +%s) - started )) s"
if [ "$GOT" = "$EXPECTED" ] && [ "$LAST" = "t" ] && [ "$ACCOUNTS" = "$((SCALE * 100000))" ]; then
  echo "demo: restore matched: yes ($GOT marker rows up to $T, as on the source)"
else
  echo "demo: restore matched: no (expected $EXPECTED marker rows, got $GOT)"
  exit 1
fi
