#!/usr/bin/env bash
# End-to-end test of backupd/engine/pg_basebackup_stream + manifest_verifier against PostgreSQL 15:
# starts a primary (with a tablespace, a password-only role and a role without REPLICATION) and a
# streaming standby through tests/pg/pg_harness.sh, runs the server cases of the Check test
# build/tests/pg_basebackup_stream_test with PG_TEST_* set, then checks the archives it wrote
# with tools that are not ours: `tar -tf`, the manifest's file list, and pg_verifybackup on the
# extracted backups (which must fail on the one with a corrupted member).
# Env: BUILD (default build), PG_BBSTREAM_TEST_BIN (use this binary instead of building one).
set -u
cd "$(dirname "$0")/../.." || exit 1
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

test_bin=${PG_BBSTREAM_TEST_BIN:-$BUILD/tests/pg_basebackup_stream_test}
if [ -z "${PG_BBSTREAM_TEST_BIN:-}" ]; then
    if ! make --no-print-directory -s BUILD="$BUILD" "$test_bin" >/dev/null; then
        not_ok "build $test_bin"
        finish
        exit 1
    fi
fi

pg_h_setup || { not_ok "harness setup"; finish; exit 1; }
p1=$(pg_h_free_port)
p2=$(pg_h_free_port)
check "init primary" pg_h_init primary
# scram for one role over TCP, before initdb's trust lines (first match wins)
sed -i '/^# TYPE/a host replication pwuser 127.0.0.1/32 scram-sha-256' "$PG_H_ROOT/primary/pg_hba.conf"
check "start primary" pg_h_start primary "$p1"

tsdir="$PG_H_ROOT/ts1"
pg_h_mkdir "$tsdir"
bad_pw="wrong-Pa55word-$RANDOM$RANDOM"
setup_sql() {
    # one statement per call: psql -c runs a multi-statement string in one transaction
    pg_h_psql "$p1" "create tablespace ts1 location '$tsdir'" &&
    pg_h_psql "$p1" "create table t_ts (id int, v text) tablespace ts1" &&
    pg_h_psql "$p1" "insert into t_ts select g, repeat('x', 100) from generate_series(1, 20000) g" &&
    pg_h_psql "$p1" "create table t_main as select g as id, md5(g::text) as v from generate_series(1, 50000) g" &&
    pg_h_psql "$p1" "create role pwuser login replication password 'right-Pa55word'" &&
    pg_h_psql "$p1" "create role norepl login" &&
    pg_h_psql "$p1" "checkpoint"
}
check "tablespace, data and roles" setup_sql
check "start standby" pg_h_start_standby "$p1" standby "$p2"
check "standby caught up" pg_h_wait_replay "$p1" "$p2"

out="$PG_H_ROOT/out"
mkdir -p "$out"
export PG_TEST_OUTDIR="$out"
PG_TEST_CONNINFO="$(pg_h_conninfo "$p1")"
export PG_TEST_CONNINFO
PG_TEST_CONNINFO_STANDBY="$(pg_h_conninfo "$p2")"
export PG_TEST_CONNINFO_STANDBY
PG_TEST_SYSID="$(pg_h_psql "$p1" "select system_identifier from pg_control_system()")"
export PG_TEST_SYSID
PG_TEST_SERVER_VERSION_NUM="$(pg_h_psql "$p1" "show server_version_num")"
export PG_TEST_SERVER_VERSION_NUM
export PG_TEST_TABLESPACES=2
export PG_TEST_BADPW="$bad_pw"
export PG_TEST_CONNINFO_BADPW="host=127.0.0.1 port=$p1 user=pwuser password=$bad_pw"
export PG_TEST_CONNINFO_NOREPL="host=127.0.0.1 port=$p1 user=norepl dbname=postgres"

# the client side needs no privileges: it runs as the caller
log="$PG_H_ROOT/log/check.log"
CK_VERBOSITY=verbose "$test_bin" >"$log" 2>&1
rc=$?
while IFS= read -r line; do
    case "$line" in
        *:P:*) ok "check ${line#*:P:}" ;;
        *:[FE]:*) not_ok "check ${line#*:[FE]:}" ;;
    esac
done < <(grep -E ':[PFE]:[a-z]+:test_' "$log")
check "Check suite exit status 0" test "$rc" -eq 0
check "no server case skipped" bash -c "! grep -q '^skipped' '$log'"
check "password not in the output" bash -c "! grep -qF '$bad_pw' '$log'"
grep -E '^(primary|standby|PG_TEST)' "$log" | sed 's/^/# /'

# tar -tf lists exactly the members our stream parser saw
for dir in primary primary-crc32c standby corrupt; do
    for tarfile in "$out/$dir"/*.tar; do
        [ -e "$tarfile" ] || { not_ok "$dir has archives"; continue; }
        check "tar -tf matches the streamed members of $dir/$(basename "$tarfile")" \
            diff -q <(tar -tf "$tarfile") "$tarfile.members"
    done
done

# manifest file list = regular files of the archives (tablespace ones under pg_tblspc/<oid>/)
regular_files() {
    local dir=$1 t oid
    for t in "$dir"/*.tar; do
        oid=$(basename "$t" .tar)
        if [ "$oid" = base ]; then
            tar -tvf "$t" | awk '$1 ~ /^-/ {print $NF}'
        else
            tar -tvf "$t" | awk -v p="pg_tblspc/$oid/" '$1 ~ /^-/ {print p $NF}'
        fi
    done | sort
}
for dir in primary standby; do
    check "manifest lists exactly the regular files of $dir" \
        diff -q <(jq -r '.Files[].Path' "$out/$dir/backup_manifest" | sort) <(regular_files "$out/$dir")
done

# pg_verifybackup on the extracted backups
extract() {
    local dir=$1 dest=$2 t oid
    rm -rf "$dest"
    mkdir -p "$dest"
    for t in "$dir"/*.tar; do
        oid=$(basename "$t" .tar)
        if [ "$oid" = base ]; then
            tar -xf "$t" -C "$dest"
        else
            mkdir -p "$dest/pg_tblspc/$oid"
            tar -xf "$t" -C "$dest/pg_tblspc/$oid"
        fi
    done
    cp "$dir/backup_manifest" "$dest/"
}
for dir in primary primary-crc32c standby; do
    extract "$out/$dir" "$PG_H_ROOT/x-$dir"
    check "pg_verifybackup accepts the $dir backup" \
        "$PG_H_BIN/pg_verifybackup" -q -n "$PG_H_ROOT/x-$dir"
done
extract "$out/corrupt" "$PG_H_ROOT/x-corrupt"
verify_out=$("$PG_H_BIN/pg_verifybackup" -n "$PG_H_ROOT/x-corrupt" 2>&1)
check "pg_verifybackup rejects the corrupted backup" \
    grep -q 'checksum mismatch for file "PG_VERSION"' <<<"$verify_out"
check "tablespace archive holds t_ts data" \
    test "$(tar -tf "$out/primary/$(pg_h_psql "$p1" "select oid from pg_tablespace where spcname = 'ts1'").tar" | grep -c '/[0-9]*$')" -gt 0
check "no base backup left running" \
    test "$(pg_h_psql "$p1" "select count(*) from pg_stat_progress_basebackup")" = 0

finish
