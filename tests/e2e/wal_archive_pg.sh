#!/usr/bin/env bash
# End-to-end test of `backupctl wal-push` / `wal-fetch` with PostgreSQL 15 (tests/pg/pg_harness.sh):
# a primary archives with archive_command 'backupctl wal-push %p' into a file repository while
# pgbench runs; pg_stat_archiver must show no failure, every archived file must be in wal_005/
# and no .ready backlog may remain. Then a copy restored from pg_basebackup -X none replays the
# archive with restore_command 'backupctl wal-fetch %f %p' (prefetch on) and must end up with the
# primary's data. Prints `ok - ...` lines and `N passed, M failed`.
# Env: BUILD (default build).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
# shellcheck source=tests/pg/pg_harness.sh
. tests/pg/pg_harness.sh

passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; }
trap pg_h_cleanup EXIT

if ! make --no-print-directory -s BUILD="$BUILD" "$BUILD/bin/backupctl" >/dev/null; then
    not_ok "build backupctl"
    finish
    exit 1
fi
pg_h_setup || { not_ok "harness setup"; finish; exit 1; }
pg_h_install_bin "$BUILD/bin/backupctl" >/dev/null || { not_ok "install backupctl"; finish; exit 1; }

repo="$PG_H_ROOT/walrepo"
pg_h_mkdir "$repo"
export WALG_FILE_PREFIX="$repo"          # the server (and so archive_command) inherits it
export BACKUP_LOG_LEVEL=info
p1=$(pg_h_free_port)
p2=$(pg_h_free_port)
primary=$(pg_h_dir primary)
PG_H_EXTRA_CONF="archive_timeout = 0" check "init primary" pg_h_init primary 'backupctl wal-push %p'
check "start primary" pg_h_start primary "$p1"

pgbench() { pg_h_run_as "$PG_H_BIN/pgbench" -h 127.0.0.1 -p "$p1" -U postgres "$@" postgres >>"$PG_H_ROOT/log/pgbench.log" 2>&1; }
check "pgbench -i -s 5" pgbench -i -s 5
base="$PG_H_ROOT/base"
check "pg_basebackup -X none (WAL comes from the archive)" \
    pg_h_run_as "$PG_H_BIN/pg_basebackup" -h 127.0.0.1 -p "$p1" -U postgres -D "$base" -X none -c fast 2>>"$PG_H_ROOT/log/pgbench.log"
check "pgbench -T 5" pgbench -T 5 -c 2 -j 2
pg_h_psql "$p1" "create table pitr_marker as select 42 as answer" >/dev/null
switched=$(pg_h_psql "$p1" "select pg_walfile_name(pg_current_wal_lsn())")
pg_h_psql "$p1" "select pg_switch_wal()" >/dev/null

# wait until the archiver has passed the switched segment and nothing is waiting
wait_archived() {
    local i last ready
    for i in $(seq 1 600); do
        last=$(pg_h_psql "$p1" "select coalesce(last_archived_wal, '') from pg_stat_archiver")
        ready=$(find "$primary/pg_wal/archive_status" -name '*.ready' | wc -l)
        if [ -n "$last" ] && [[ ! "$last" < "$switched" ]] && [ "$ready" -eq 0 ]; then
            return 0
        fi
        sleep 0.1
    done
    echo "# last archived '$last', waiting for $switched, $ready .ready files" >&2
    return 1
}
check "archiver reached $switched with no .ready backlog" wait_archived

read -r archived failed_count < <(pg_h_psql "$p1" "select archived_count, failed_count from pg_stat_archiver" | tr '|' ' ')
check "pg_stat_archiver failed_count = 0 (got $failed_count)" test "$failed_count" -eq 0
check "pg_stat_archiver archived_count > 0 (got $archived)" test "$archived" -gt 0

objects=$(find "$repo/wal_005" -type f -name '*.zst' | wc -l)
check "one wal_005 object per archived file ($objects objects, $archived archived)" test "$objects" -eq "$archived"
missing=0
for done_file in "$primary"/pg_wal/archive_status/*.done; do
    name=$(basename "$done_file" .done)
    [ -f "$repo/wal_005/$name.zst" ] || { echo "# $name is .done but not in wal_005" >&2; missing=$((missing + 1)); }
done
check "every .done file is in wal_005" test "$missing" -eq 0
check "no wal_005 object is a temp or partial upload" \
    bash -c "! find '$repo' -name '.backupd-tmp-*' | grep -q ."
check "archive_command never failed in the server log" \
    bash -c "! grep -q 'archive command failed' '$PG_H_ROOT/log/primary.log'"
check "archive_status holds only PostgreSQL's .ready/.done files" \
    bash -c "! ls '$primary/pg_wal/archive_status' | grep -qv -E '\\.(done|ready)\$'"

# the newest archived segment decompresses to the bytes PostgreSQL wrote
last=$(pg_h_psql "$p1" "select last_archived_wal from pg_stat_archiver")
fetched="$PG_H_ROOT/fetched"
mkdir -p "$fetched"
check "wal-fetch $last round trip" bash -c \
    "'$BUILD/bin/backupctl' wal-fetch --no-prefetch '$last' '$fetched/seg' 2>/dev/null && cmp -s '$fetched/seg' '$primary/pg_wal/$last'"

# timings of the pushes, from the server log (one info line per file)
grep -oE 'pushed [0-9A-F]{24} .*stored, [0-9]+ ms\)( \[background\])?' "$PG_H_ROOT/log/primary.log" |
    sed -E 's/.*stored, ([0-9]+) ms\).*/\1/' | sort -n >"$PG_H_ROOT/push_ms"
n_push=$(wc -l <"$PG_H_ROOT/push_ms")
n_bg=$(grep -c '\[background\]' "$PG_H_ROOT/log/primary.log")
n_marker=$(grep -c 'already archived by an earlier background push' "$PG_H_ROOT/log/primary.log")
if [ "$n_push" -gt 0 ]; then
    echo "# $n_push segment uploads ($n_bg in the background, $n_marker calls answered by a marker);" \
         "ms median $(sed -n "$(( (n_push + 1) / 2 ))p" "$PG_H_ROOT/push_ms"), max $(tail -1 "$PG_H_ROOT/push_ms")"
fi
check "marker calls match background uploads ($n_marker vs $n_bg)" test "$n_marker" -eq "$n_bg"

# ---- restore: pg_basebackup copy + restore_command wal-fetch ----
want_sum=$(pg_h_psql "$p1" "select sum(abalance) from pgbench_accounts")
{
    echo "restore_command = 'backupctl wal-fetch %f %p'"
    echo "archive_mode = off"
} | pg_h_run_as tee -a "$base/postgresql.auto.conf" >/dev/null
pg_h_run_as touch "$base/recovery.signal"
check "start the restored copy" pg_h_start "$base" "$p2"
wait_promoted() {
    local i
    for i in $(seq 1 1200); do
        [ "$(pg_h_psql "$p2" "select pg_is_in_recovery()" 2>/dev/null)" = f ] && return 0
        sleep 0.1
    done
    return 1
}
check "archive recovery reached the end of the archive and promoted" wait_promoted
check "restored data matches the primary (sum(abalance) = $want_sum)" \
    test "$(pg_h_psql "$p2" "select sum(abalance) from pgbench_accounts")" = "$want_sum"
check "restored copy has the last table created before the switch" \
    test "$(pg_h_psql "$p2" "select answer from pitr_marker")" = 42
rlog="$PG_H_ROOT/log/base.log"
n_fetch=$(grep -c 'wal_fetch: fetched\|info: fetched' "$rlog")
n_cache=$(grep -c 'from the prefetch cache' "$rlog")
echo "# restore: $n_fetch segments fetched, $n_cache of them from the prefetch cache"
check "restore_command fetched segments ($n_fetch)" test "$n_fetch" -gt 1
check "prefetch served segments from the cache ($n_cache)" test "$n_cache" -gt 0
check "the end of the archive was reported as not archived (exit 74), not as a failure" \
    bash -c "grep -q 'is not in the archive' '$rlog' && ! grep -q 'stops recovery' '$rlog'"
finish
