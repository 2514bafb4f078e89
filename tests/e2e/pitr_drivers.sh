#!/usr/bin/env bash
# Point-in-time recovery end to end, once per storage driver, on real PostgreSQL 15 servers
# (tests/pg/pg_harness.sh): archive_command = `backupctl wal-push`; pgbench -i -s 20 and a marker
# table of timestamped rows; `backupctl backup-push` while pgbench runs; more marker rows; note T;
# more rows; `backupctl backup-fetch --target-time T` into a new data directory; start it and
# check that exactly the marker rows committed up to T are there, that the pgbench tables are
# consistent, and that pg_amcheck passes. Runs: fs (file://), s3 (s3rver behind the SigV4 proxy),
# azure (azurite), and standby (fs, backup-push against a streaming standby).
#
# Credentials never appear on a command line: archive_command/restore_command call a wrapper
# $PG_H_ROOT/bin/backupctl-<run> that sources a 0600 env file owned by the pg user, then execs
# backupctl. The test shell itself does not export them either, so no server inherits them.
# Env: BUILD (default build), PITR_RUNS (default "fs s3 azure standby"), PITR_SCALE (20),
# PITR_BENCH_S (10), PG_H_KEEP=1 keeps the clusters. Prints ok/not ok and "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
RUNS=${PITR_RUNS:-fs s3 azure standby}
SCALE=${PITR_SCALE:-20}
BENCH_S=${PITR_BENCH_S:-10}
own_tmp=
[ -n "${TEST_TMP:-}" ] || own_tmp=$(mktemp -d /tmp/pitr-drivers.XXXXXX)
export TEST_TMP=${TEST_TMP:-$own_tmp}
mkdir -p "$TEST_TMP"
# shellcheck source=tests/pg/pg_harness.sh
. tests/pg/pg_harness.sh

passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; }
cleanup() {
    pg_h_cleanup
    bash tests/servers/stop_servers.sh 2>/dev/null
    [ -n "$own_tmp" ] && [ "${PG_H_KEEP:-0}" != 1 ] && rm -rf "$own_tmp"
}
trap cleanup EXIT
started=$(date +%s)
log() { echo "# $*"; }

# ---- setup helpers ----

# make_wrapper RUN [ENV_FILE]: $PG_H_ROOT/bin/backupctl-RUN runs backupctl with ENV_FILE's
# variables (copied to a 0600 file of the pg user); prints the wrapper's path.
make_wrapper() {
    local run=$1 src=${2:-} envdir="$PG_H_ROOT/env" wrap="$PG_H_ROOT/bin/backupctl-$1"
    pg_h_mkdir "$envdir" && chmod 0700 "$envdir" || return 1
    {
        echo '#!/bin/sh'
        echo "# backupctl with the $run test storage settings (tests/e2e/pitr_drivers.sh)"
        if [ -n "$src" ]; then
            install -m 0600 "$src" "$envdir/$run.env" || return 1
            pg_h__is_root && chown "$PG_H_USER:" "$envdir/$run.env"
            echo ". '$envdir/$run.env'"
        fi
        echo "exec '$CTL' \"\$@\""
    } >"$wrap" || return 1
    chmod 0755 "$wrap"
    echo "$wrap"
}

start_server() {   # start_server s3|azure: start_<name>.sh on free ports; 0 when its env file exists
    local name=$1
    case $name in
        s3) S3RVER_PORT=$(pg_h_free_port) S3_PROXY_PORT=$(pg_h_free_port) \
                bash tests/servers/start_s3.sh >"$TEST_TMP/start-s3.log" 2>&1 ;;
        azure) AZURITE_BLOB_PORT=$(pg_h_free_port) \
                bash tests/servers/start_azure.sh >"$TEST_TMP/start-azure.log" 2>&1 ;;
    esac
    [ -s "$TEST_TMP/$name.env" ] || { cat "$TEST_TMP/start-$name.log"; return 1; }
}

# ---- scenario helpers ----

marker_rows() {   # marker_rows PORT N: N marker rows, one transaction each
    local i
    for i in $(seq "$2"); do
        pg_h_psql "$1" "INSERT INTO marker DEFAULT VALUES" >/dev/null || return 1
        sleep 0.05
    done
}

now_utc() {   # the server's clock as RFC 3339 with microseconds
    pg_h_psql "$1" "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
}

# archive_through PORT: switch WAL and wait (60 s) until that segment is archived
archive_through() {
    local port=$1 seg i
    seg=$(pg_h_psql "$port" "SELECT pg_walfile_name(pg_switch_wal())") || return 1
    for i in $(seq 600); do
        [ "$(pg_h_psql "$port" "SELECT coalesce(last_archived_wal >= '$seg', false) FROM pg_stat_archiver")" = t ] && return 0
        sleep 0.1
    done
    echo "segment $seg not archived after 60 s:" >&2
    pg_h_psql "$port" "SELECT * FROM pg_stat_archiver" >&2
    return 1
}

# start_free DIR [PRIMARY_PORT]: start DIR (a streaming standby of PRIMARY_PORT when given) on
# a port picked just now, and again on another port when something took it in between
# (pg_h_free_port's range overlaps the kernel's ephemeral ports); sets PORT
start_free() {
    local dir=$1 primary_port=${2:-} i
    for i in 1 2 3; do
        PORT=$(pg_h_free_port) || return 1
        if [ -n "$primary_port" ]; then
            pg_h_start_standby "$primary_port" "$dir" "$PORT" && return 0
        else
            pg_h_start "$dir" "$PORT" && return 0
        fi
        grep -q "Address already in use" "$PG_H_ROOT/log/$dir.log" 2>/dev/null || return 1
        pg_h_stop "$dir"
        [ -n "$primary_port" ] && rm -rf "$(pg_h_dir "$dir")"
        echo "# $dir: port $PORT was taken, trying another" >&2
    done
    return 1
}

wait_promoted() {   # wait_promoted PORT: until recovery has ended (120 s)
    local i
    for i in $(seq 240); do
        [ "$(pg_h_psql "$1" "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && return 0
        sleep 0.5
    done
    return 1
}

# the marker rows as one comparable string
MARKER_SQL="SELECT count(*) || ' ' || coalesce(md5(string_agg(id || '@' || at, ',' ORDER BY id)), '-') FROM marker"
# pgbench's invariant: every transaction moves the same delta in all four tables
BALANCE_SQL="SELECT (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT coalesce(sum(delta), 0) FROM pgbench_history)
  AND (SELECT sum(tbalance) FROM pgbench_tellers) = (SELECT sum(bbalance) FROM pgbench_branches)
  AND (SELECT sum(bbalance) FROM pgbench_branches) = (SELECT coalesce(sum(delta), 0) FROM pgbench_history)"

# no_secret_visible RUN DATADIR PORT: the run's secret (from its env file) is not in
# archive_command, not on any process's command line (the SigV4 proxy, a test fixture, takes it
# as an argument and is left out), and the postmaster's environment has no credential variable
no_secret_visible() {
    local secret pid pat
    secret=$(sed -n -e "s/^export AWS_SECRET_ACCESS_KEY=//p" -e "s/^export AZURE_STORAGE_ACCESS_KEY=//p" \
        "$TEST_TMP/$1.env" | tr -d "'")
    pid=$(head -n 1 "$2/postmaster.pid")
    [ -n "$secret" ] && [ -n "$pid" ] || return 1
    # the pattern goes through a file: `grep SECRET` would put it on grep's own command line
    pat=$(mktemp "$TEST_TMP/pat.XXXXXX") && printf '%s\n' "$secret" >"$pat" || return 1
    ! pg_h_psql "$3" "SHOW archive_command" | grep -qFf "$pat" &&
        ! ps -eo args | grep -v 'sigv4-proxy\.js' | grep -qFf "$pat" &&
        ! tr '\0' '\n' <"/proc/$pid/environ" | grep -qE '^(AWS_SECRET_ACCESS_KEY|AZURE_STORAGE_ACCESS_KEY)='
    local rc=$?
    rm -f "$pat"
    return $rc
}

dump_logs() {   # dump_logs RUN: the tail of the run's logs, after a failure
    local f
    for f in "$PG_H_ROOT"/log/*"$1"-*.log "$PG_H_ROOT"/log/*-"$1".log; do
        [ -f "$f" ] && { echo "--- $f"; tail -n 15 "$f"; }
    done | sed 's/^/# /'
}

# pitr_run RUN WRAPPER URL FROM: the whole scenario; FROM is "primary" or "standby" (where
# backup-push connects). RESTORE_CMD (optional) is passed to backup-fetch --restore-command.
pitr_run() {
    local run=$1 wrap=$2 url=$3 from=$4 restore_cmd=${5:-}
    local p1 p2 p3 dsn bench_pid name t expected got out json f0=$failed
    local primary="$run-primary" standby="$run-standby" restored="$run-restored"
    log "run $run: $url, backup from the $from"
    if ! pg_h_init "$primary" "$wrap wal-push --repo '$url' %p" || ! start_free "$primary"; then
        not_ok "$run: primary initialised and started"
        return 1
    fi
    p1=$PORT
    pg_h_psql "$p1" "CREATE TABLE marker (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())" >/dev/null &&
        pg_h_run_as "$PG_H_BIN/pgbench" -q -i -s "$SCALE" -h 127.0.0.1 -p "$p1" -U postgres postgres \
            >"$PG_H_ROOT/log/pgbench-init-$run.log" 2>&1
    check "$run: pgbench -i -s $SCALE and the marker table" test $? -eq 0
    dsn=$(pg_h_conninfo "$p1")
    if [ "$from" = standby ]; then
        check "$run: streaming standby started" start_free "$standby" "$p1"
        p2=$PORT
        dsn=$(pg_h_conninfo "$p2")
    fi

    pg_h_run_as "$PG_H_BIN/pgbench" -h 127.0.0.1 -p "$p1" -U postgres -c 4 -j 2 -T "$BENCH_S" postgres \
        >"$PG_H_ROOT/log/pgbench-$run.log" 2>&1 &
    bench_pid=$!
    marker_rows "$p1" 10
    [ "$from" = standby ] && pg_h_wait_replay "$p1" "$p2" >/dev/null
    check "$run: pgbench still running when backup-push starts" kill -0 "$bench_pid"
    name=$(pg_h_run_as "$wrap" backup-push --repo "$url" -d "$dsn" 2>"$PG_H_ROOT/log/backup-push-$run.log")
    if [ $? -eq 0 ] && [[ $name =~ ^base_[0-9A-F]{24}$ ]]; then
        ok "$run: backup-push from the $from while pgbench runs ($name)"
    else
        not_ok "$run: backup-push from the $from while pgbench runs"
        sed 's/^/# /' "$PG_H_ROOT/log/backup-push-$run.log"
    fi
    marker_rows "$p1" 10
    wait "$bench_pid"
    check "$run: pgbench -T $BENCH_S finished cleanly" test $? -eq 0
    marker_rows "$p1" 10
    sleep 1
    t=$(now_utc "$p1")
    expected=$(pg_h_psql "$p1" "$MARKER_SQL")
    sleep 1
    marker_rows "$p1" 10
    check "$run: WAL up to after T archived" archive_through "$p1"
    [ -n "$restore_cmd" ] && check "$run: the secret is in no command line and not in the server's environment" \
        no_secret_visible "$run" "$(pg_h_dir "$primary")" "$p1"
    log "$run: T = $t, marker rows up to T: ${expected%% *} of $(pg_h_psql "$p1" "SELECT count(*) FROM marker")"

    out=$(pg_h_run_as "$wrap" backup-list --repo "$url" 2>&1)
    check "$run: backup-list shows $name" grep -q "^$name " <<<"$out"
    json=$(pg_h_run_as "$wrap" backup-list --repo "$url" --json 2>/dev/null)
    check "$run: backup-list --json parses and names $name" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert isinstance(d, list) and any(b.get("backup_name") == sys.argv[2] for b in d), d' "$json" "$name"

    local fetch=(backup-fetch --repo "$url" --target-time "$t")
    [ -n "$restore_cmd" ] && fetch+=(--restore-command "$restore_cmd")
    if pg_h_run_as "$wrap" "${fetch[@]}" "$(pg_h_dir "$restored")" LATEST >"$PG_H_ROOT/log/backup-fetch-$run.log" 2>&1; then
        ok "$run: backup-fetch LATEST --target-time T"
    else
        not_ok "$run: backup-fetch LATEST --target-time T"
        sed 's/^/# /' "$PG_H_ROOT/log/backup-fetch-$run.log"
    fi
    check "$run: recovery.signal and recovery_target_time written" \
        test -f "$(pg_h_dir "$restored")/recovery.signal" -a \
        "$(grep -cxF "recovery_target_time = '$t'" "$(pg_h_dir "$restored")/postgresql.auto.conf")" = 1
    if start_free "$restored" && p3=$PORT && wait_promoted "$p3"; then
        ok "$run: restored server replayed to T and promoted"
        got=$(pg_h_psql "$p3" "$MARKER_SQL")
        check "$run: exactly the marker rows committed up to T (want '$expected', got '$got')" \
            test "$got" = "$expected"
        check "$run: pgbench_accounts has $((SCALE * 100000)) rows" \
            test "$(pg_h_psql "$p3" "SELECT count(*) FROM pgbench_accounts")" = "$((SCALE * 100000))"
        check "$run: pgbench balances agree (accounts = tellers = branches = history)" \
            test "$(pg_h_psql "$p3" "$BALANCE_SQL")" = t
        check "$run: pg_amcheck --heapallindexed passes" pg_h_run_as "$PG_H_BIN/pg_amcheck" --install-missing \
            --heapallindexed -h 127.0.0.1 -p "$p3" -U postgres postgres
    else
        not_ok "$run: restored server replayed to T and promoted"
    fi
    [ "$failed" -gt "$f0" ] && dump_logs "$run"
    # free the ports and the disk before the next run
    pg_h_stop "$restored"; pg_h_stop "$standby"; pg_h_stop "$primary"
    [ "${PG_H_KEEP:-0}" = 1 ] || rm -rf "$(pg_h_dir "$restored")" "$(pg_h_dir "$standby")" "$(pg_h_dir "$primary")"
    return 0
}

# ---- main ----

if [ ! -x "$BUILD/bin/backupctl" ] && ! make --no-print-directory -s BUILD="$BUILD" >/dev/null; then
    not_ok "build backupctl"; finish; exit 1
fi
pg_h_setup || { not_ok "harness setup"; finish; exit 1; }
CTL=$(pg_h_install_bin "$PWD/$BUILD/bin/backupctl") || { not_ok "install backupctl"; finish; exit 1; }
tag="pitr-$$-$RANDOM"

for run in $RUNS; do
    case $run in
        fs|standby)
            repo="$PG_H_ROOT/repo-$run"
            pg_h_mkdir "$repo"
            # default restore_command (backupctl's own path) for file://: no credentials needed
            wrap=$(make_wrapper "$run") && pitr_run "$run" "$wrap" "file://$repo" \
                "$([ "$run" = standby ] && echo standby || echo primary)" ;;
        s3|azure)
            if ! start_server "$run"; then
                not_ok "$run: test server started"
                continue
            fi
            url="$run://backups/$tag"
            # restore_command must go through the wrapper too: the server has no credentials
            wrap=$(make_wrapper "$run" "$TEST_TMP/$run.env") &&
                pitr_run "$run" "$wrap" "$url" primary "$wrap wal-fetch --repo '$url' %f %p" ;;
        *) not_ok "unknown run \"$run\" in PITR_RUNS" ;;
    esac
done
log "took $(( $(date +%s) - started )) s"
finish
