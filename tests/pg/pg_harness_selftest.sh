#!/usr/bin/env bash
# Self-test of tests/pg/pg_harness.sh: a primary and a streaming standby as the unprivileged
# user, pgbench data replicated, archive_command running a copied binary with the caller's
# environment, cleanup leaving nothing behind. Prints ok/not ok lines and "N passed, M failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/pg/pg_harness.sh
. tests/pg/pg_harness.sh

passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
finish() { pg_h_cleanup; echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; }

trap 'pg_h_cleanup' EXIT

pg_h_setup || { not_ok "setup"; finish; exit 1; }
check "temp dir is owned by the pg user" \
    test "$(stat -c %U "$PG_H_ROOT")" = "$PG_H_USER"

# archive_command runs a copied script that needs a variable from our environment
cat >"$PG_H_ROOT/tmp/archive.sh" <<'EOF'
#!/bin/sh
# %p relative to the data dir, %f file name; the destination comes from the environment
[ -n "$WALG_FILE_PREFIX" ] || exit 3
cp "$1" "$WALG_FILE_PREFIX/$2.tmp" && mv "$WALG_FILE_PREFIX/$2.tmp" "$WALG_FILE_PREFIX/$2"
EOF
archive_bin=$(pg_h_install_bin "$PG_H_ROOT/tmp/archive.sh" fake-wal-push)
check "install_bin copies into the temp dir" test -x "$archive_bin"
export WALG_FILE_PREFIX="$PG_H_ROOT/archive" AWS_REGION=test-region-1
pg_h_mkdir "$WALG_FILE_PREFIX"

# shellcheck disable=SC2016 # expanded by the inner shell, as the pg user
check "run_as keeps WALG_/AWS_ variables" \
    test "$(pg_h_run_as sh -c 'echo "$WALG_FILE_PREFIX $AWS_REGION"')" = "$WALG_FILE_PREFIX test-region-1"
check "run_as runs as the pg user" test "$(pg_h_run_as id -un)" = "$PG_H_USER"
check "run_as finds installed binaries in PATH" \
    test "$(pg_h_run_as sh -c 'command -v fake-wal-push')" = "$archive_bin"

p1=$(pg_h_free_port)
p2=$(pg_h_free_port)
check "free ports are distinct" test "$p1" != "$p2"

check "init primary" pg_h_init primary "fake-wal-push %p %f"
check "pg_harness.conf included with archive_command" \
    grep -qx "archive_command = 'fake-wal-push %p %f'" "$PG_H_ROOT/primary/pg_harness.conf"
check "trust for replication over 127.0.0.1" \
    grep -Eq '^host +replication +all +127.0.0.1/32 +trust' "$PG_H_ROOT/primary/pg_hba.conf"
check "start primary" pg_h_start primary "$p1"
check "server process runs as the pg user" \
    test "$(ps -o user= -p "$(head -1 "$PG_H_ROOT/primary/postmaster.pid")")" = "$PG_H_USER"
check "data checksums on" test "$(pg_h_psql "$p1" "show data_checksums")" = on
check "wal_level replica" test "$(pg_h_psql "$p1" "show wal_level")" = replica
check "listens on 127.0.0.1 only" test "$(pg_h_psql "$p1" "show listen_addresses")" = 127.0.0.1
check "fsync off" test "$(pg_h_psql "$p1" "show fsync")" = off
check "unix socket in the temp dir" test -S "$PG_H_SOCK/.s.PGSQL.$p1"

check "pgbench -i -s 1" pg_h_run_as "$PG_H_BIN/pgbench" -i -s 1 -q -h 127.0.0.1 -p "$p1" -U postgres postgres \
    2>"$PG_H_ROOT/log/pgbench.log"
check "start standby" pg_h_start_standby "$p1" standby "$p2"
check "standby is in recovery" test "$(pg_h_psql "$p2" "select pg_is_in_recovery()")" = t
check "primary sees one streaming standby" \
    test "$(pg_h_psql "$p1" "select count(*) from pg_stat_replication where state = 'streaming'")" = 1
pg_h_psql "$p1" "update pgbench_branches set bbalance = 4242 where bid = 1"
check "standby replays the primary" pg_h_wait_replay "$p1" "$p2"
check "pgbench rows on the standby" \
    test "$(pg_h_psql "$p2" "select count(*) from pgbench_accounts")" = 100000
check "update visible on the standby" \
    test "$(pg_h_psql "$p2" "select bbalance from pgbench_branches where bid = 1")" = 4242

seg=$(pg_h_psql "$p1" "select pg_walfile_name(pg_current_wal_lsn())")
pg_h_psql "$p1" "select pg_switch_wal()" >/dev/null
archived=no
for _ in $(seq 1 100); do
    [ -f "$WALG_FILE_PREFIX/$seg" ] && { archived=yes; break; }
    sleep 0.1
done
check "archive_command archived $seg via the copied binary" test "$archived" = yes

check "stop standby" pg_h_stop standby
check "standby stopped" test ! -e "$PG_H_ROOT/standby/postmaster.pid"
check "stop primary" pg_h_stop primary
check "primary port closed" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$p1) 2>/dev/null"

# cleanup also stops servers still running
pg_h_start primary "$p1"
root=$PG_H_ROOT
pid=$(head -1 "$root/primary/postmaster.pid")
pg_h_cleanup
check "cleanup removed the temp dir" test ! -e "$root"
# a zombie (state Z) has exited; the test runner may be a subreaper that reaps late
check "cleanup stopped the server" bash -c "! ps -o stat= -p $pid | grep -qv '^Z'"

trap - EXIT
finish
