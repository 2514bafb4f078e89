# shellcheck shell=bash
# pg_harness.sh - throwaway PostgreSQL 15 clusters for tests and the demo (source it, do not run it).
#
# PostgreSQL refuses to run as root and CI runs as root, so when the caller is root every server
# and every pg_h_run_as command runs as the unprivileged system user $PG_H_USER (default
# `pgtest`, created with `useradd -r -m` if missing). As any other user the caller's own uid is
# used and nothing is created.
#
# Everything lives in one temp dir, $PG_H_ROOT = mktemp -d ${TEST_TMP:-/tmp}/pgh.XXXXXX, owned by
# that user: data dirs (a DIR argument without a leading / is a name inside it), logs in log/,
# the unix sockets, copied binaries in bin/. If the pg user cannot enter TEST_TMP (a root-owned
# 0700 dir, a repo under /root), /tmp is used instead. pg_h_cleanup stops every server started
# here and removes the dir (data dirs given as absolute paths elsewhere are stopped, not removed);
# callers register it: `trap pg_h_cleanup EXIT`.
#
# Project binaries: the repo may sit under /root (mode 0700), which the pg user cannot enter.
# Rather than chmod o+x on the caller's parent dirs (changes the machine outside the test),
# pg_h_install_bin copies a binary into $PG_H_ROOT/bin (mode 0755); pg_h_run_as puts that dir
# first in PATH, so an archive_command like 'backupctl wal-push %p' finds it. The binaries link
# the layer libraries statically and only need system shared libraries, so a copy runs anywhere.
#
# Settings the harness writes go to DIR/pg_harness.conf (included from postgresql.conf):
#   listen_addresses 127.0.0.1, port given at start (-p), unix socket in the temp dir,
#   wal_level=replica, max_wal_senders=10, max_replication_slots=10, archive_mode=on,
#   archive_command=$PG_H_ARCHIVE_COMMAND or pg_h_init's 2nd argument (default '/bin/true'),
#   fsync=$PG_H_FSYNC (default off: crash safety is not tested here), hot_standby=on,
#   wal_keep_size=128MB, plus the lines in $PG_H_EXTRA_CONF.
# initdb: --data-checksums, -A trust (local, host 127.0.0.1 and the replication lines), superuser
# $PG_H_SUPERUSER (default postgres), UTF8, locale C.
#
# Functions (return non-zero on failure, messages on stderr):
#   pg_h_setup                        create user + temp dir (the others call it; idempotent)
#   pg_h_free_port                    print a TCP port free on 127.0.0.1
#   pg_h_dir DIR                      print the absolute data dir for DIR
#   pg_h_init DIR [ARCHIVE_COMMAND]   initdb + pg_harness.conf
#   pg_h_start DIR PORT               start and wait until it accepts connections
#   pg_h_stop DIR                     fast shutdown, waits
#   pg_h_psql PORT SQL                run SQL as superuser over 127.0.0.1; prints unaligned tuples
#   pg_h_run_as CMD...                run CMD as the pg user (whole environment kept; HOME, USER,
#                                     LOGNAME, TMPDIR point at the temp dir; cwd = $PG_H_ROOT)
#   pg_h_start_standby PRIMARY_PORT DIR PORT
#                                     pg_basebackup -R -X stream (tablespaces remapped under
#                                     DIR.tblspc/), start, wait until the WAL receiver streams
#   pg_h_wait_replay PRIMARY_PORT STANDBY_PORT [TIMEOUT_S]
#                                     wait until the standby replayed the primary's current LSN
#   pg_h_conninfo PORT                print "host=127.0.0.1 port=PORT user=postgres dbname=postgres"
#   pg_h_install_bin SRC [NAME]       copy a binary into $PG_H_ROOT/bin, print its path
#   pg_h_mkdir DIR                    mkdir -p DIR owned by the pg user (archives, tablespaces)
#   pg_h_cleanup                      stop all servers started here, remove the temp dir
#                                     (kept when PG_H_KEEP=1, for debugging)

PG_H_BIN=${PG_H_BIN:-/usr/lib/postgresql/15/bin}
PG_H_USER=${PG_H_USER:-pgtest}
PG_H_SUPERUSER=${PG_H_SUPERUSER:-postgres}
PG_H_FSYNC=${PG_H_FSYNC:-off}
PG_H_ARCHIVE_COMMAND=${PG_H_ARCHIVE_COMMAND:-/bin/true}
PG_H_EXTRA_CONF=${PG_H_EXTRA_CONF:-}
PG_H_ROOT=${PG_H_ROOT:-}
PG_H_SOCK=${PG_H_SOCK:-}
PG_H_PORTS_TAKEN=${PG_H_PORTS_TAKEN:-}

pg_h__err() { echo "pg_harness: $*" >&2; }

pg_h__is_root() { [ "$(id -u)" -eq 0 ]; }

# Runs "$@" as the pg user with the caller's environment (setpriv keeps it, unlike runuser/su).
pg_h__as_user() {
    if pg_h__is_root; then
        setpriv --reuid="$PG_H_USER" --regid="$(id -g "$PG_H_USER")" --init-groups -- "$@"
    else
        "$@"
    fi
}

pg_h_setup() {
    if [ -n "$PG_H_ROOT" ] && [ -d "$PG_H_ROOT" ]; then
        return 0
    fi
    if [ ! -x "$PG_H_BIN/initdb" ]; then
        pg_h__err "no PostgreSQL binaries in $PG_H_BIN (set PG_H_BIN)"
        return 1
    fi
    if pg_h__is_root; then
        if ! id "$PG_H_USER" >/dev/null 2>&1; then
            useradd -r -m -s /bin/bash "$PG_H_USER" || { pg_h__err "useradd $PG_H_USER failed"; return 1; }
        fi
    else
        PG_H_USER=$(id -un)
    fi
    local base=${TEST_TMP:-/tmp}
    mkdir -p "$base" || return 1
    PG_H_ROOT=$(mktemp -d "$base/pgh.XXXXXX") || return 1
    if pg_h__is_root; then
        chown "$PG_H_USER:" "$PG_H_ROOT"
        # TEST_TMP may sit under a dir the pg user cannot enter (/root/...): fall back to /tmp
        if ! pg_h__as_user test -w "$PG_H_ROOT" -a -x "$PG_H_ROOT"; then
            pg_h__err "$base is not reachable by $PG_H_USER; using /tmp instead"
            rmdir "$PG_H_ROOT"
            PG_H_ROOT=$(mktemp -d /tmp/pgh.XXXXXX) || return 1
            chown "$PG_H_USER:" "$PG_H_ROOT"
        fi
    fi
    chmod 0755 "$PG_H_ROOT"
    # unix socket paths are limited to 107 bytes: "<dir>/.s.PGSQL.65535" must fit
    PG_H_SOCK=$PG_H_ROOT
    if [ ${#PG_H_SOCK} -gt 80 ]; then
        PG_H_SOCK=$(mktemp -d /tmp/pghs.XXXXXX) || return 1
        pg_h__is_root && chown "$PG_H_USER:" "$PG_H_SOCK"
    fi
    pg_h__as_user mkdir -p "$PG_H_ROOT/log" "$PG_H_ROOT/bin" "$PG_H_ROOT/tmp" || return 1
    : >"$PG_H_ROOT/.instances"
    export PG_H_ROOT PG_H_SOCK PG_H_USER
}

pg_h_dir() {
    case "$1" in
        /*) echo "$1" ;;
        *) echo "$PG_H_ROOT/$1" ;;
    esac
}

pg_h__port_in_use() {
    local p=$1
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -Htan "sport = :$p" 2>/dev/null)" ] && return 0
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && return 0
    return 1
}

pg_h_free_port() {
    local _ p
    for _ in $(seq 1 200); do
        # below the kernel's ephemeral range (32768-60999), so a client socket cannot take it first
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 12700))
        case " $PG_H_PORTS_TAKEN " in *" $p "*) continue ;; esac
        if ! pg_h__port_in_use "$p"; then
            PG_H_PORTS_TAKEN="$PG_H_PORTS_TAKEN $p"
            echo "$p"
            return 0
        fi
    done
    pg_h__err "no free port found"
    return 1
}

pg_h_run_as() {
    [ -n "$PG_H_ROOT" ] || { pg_h__err "pg_h_run_as before pg_h_setup"; return 1; }
    (
        cd "$PG_H_ROOT" || exit 1
        if pg_h__is_root; then
            export HOME="$PG_H_ROOT" USER="$PG_H_USER" LOGNAME="$PG_H_USER"
        fi
        export TMPDIR="$PG_H_ROOT/tmp" PATH="$PG_H_ROOT/bin:$PG_H_BIN:$PATH"
        pg_h__as_user "$@"
    )
}

pg_h_mkdir() {
    mkdir -p "$1" || return 1
    if pg_h__is_root; then chown "$PG_H_USER:" "$1"; fi
}

pg_h_install_bin() {
    local src=$1 name=${2:-$(basename "$1")}
    pg_h_setup || return 1
    install -m 0755 "$src" "$PG_H_ROOT/bin/$name" || return 1
    echo "$PG_H_ROOT/bin/$name"
}

pg_h_conninfo() {
    echo "host=127.0.0.1 port=$1 user=$PG_H_SUPERUSER dbname=postgres"
}

# Quotes a value for postgresql.conf ('' doubles a quote).
pg_h__conf_quote() {
    local v=${1//\'/\'\'}
    printf "'%s'" "$v"
}

pg_h_init() {
    local dir archive_cmd=${2:-$PG_H_ARCHIVE_COMMAND}
    pg_h_setup || return 1
    dir=$(pg_h_dir "$1")
    if [ -e "$dir/PG_VERSION" ]; then
        pg_h__err "$dir already holds a cluster"
        return 1
    fi
    mkdir -p "$(dirname "$dir")"
    if ! pg_h_run_as "$PG_H_BIN/initdb" -D "$dir" --data-checksums -A trust -U "$PG_H_SUPERUSER" \
            -E UTF8 --locale=C --no-instructions -N >"$PG_H_ROOT/log/initdb-$(basename "$dir").log" 2>&1; then
        pg_h__err "initdb $dir failed:"
        tail -n 20 "$PG_H_ROOT/log/initdb-$(basename "$dir").log" >&2
        return 1
    fi
    {
        echo "# written by tests/pg/pg_harness.sh: every setting the harness changes"
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = $(pg_h__conf_quote "$PG_H_SOCK")"
        echo "wal_level = replica"
        echo "max_wal_senders = 10"
        echo "max_replication_slots = 10"
        echo "archive_mode = on"
        echo "archive_command = $(pg_h__conf_quote "$archive_cmd")"
        echo "fsync = $PG_H_FSYNC"
        echo "hot_standby = on"
        echo "wal_keep_size = '128MB'"
        echo "shared_buffers = '32MB'"
        echo "max_connections = 40"
        echo "log_line_prefix = '%m [%p] '"
        [ -n "$PG_H_EXTRA_CONF" ] && printf '%s\n' "$PG_H_EXTRA_CONF"
    } | pg_h_run_as tee "$dir/pg_harness.conf" >/dev/null
    echo "include 'pg_harness.conf'" | pg_h_run_as tee -a "$dir/postgresql.conf" >/dev/null
}

pg_h_start() {
    local dir port=$2 log
    dir=$(pg_h_dir "$1")
    log="$PG_H_ROOT/log/$(basename "$dir").log"
    grep -qxF "$dir" "$PG_H_ROOT/.instances" 2>/dev/null || echo "$dir" >>"$PG_H_ROOT/.instances"
    if ! pg_h_run_as "$PG_H_BIN/pg_ctl" -D "$dir" -l "$log" -w -t 60 -o "-p $port" start >/dev/null; then
        pg_h__err "server in $dir did not start on port $port:"
        tail -n 30 "$log" >&2
        return 1
    fi
}

pg_h_stop() {
    local dir
    dir=$(pg_h_dir "$1")
    [ -f "$dir/postmaster.pid" ] || return 0
    pg_h_run_as "$PG_H_BIN/pg_ctl" -D "$dir" -m fast -w -t 60 stop >/dev/null
}

pg_h_psql() {
    local port=$1
    shift
    pg_h_run_as "$PG_H_BIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" \
        -U "$PG_H_SUPERUSER" -d "${PG_H_DB:-postgres}" -c "$1"
}

pg_h_start_standby() {
    local pport=$1 dir port=$3 maps=() oid loc _
    dir=$(pg_h_dir "$2")
    # a standby on the same host cannot share the primary's tablespace directories
    while IFS='|' read -r oid loc; do
        [ -n "$oid" ] || continue
        pg_h_mkdir "$dir.tblspc" || return 1
        maps+=(-T "$loc=$dir.tblspc/$oid")
    done < <(pg_h_psql "$pport" "select oid, pg_tablespace_location(oid) from pg_tablespace
                                 where spcname not in ('pg_default', 'pg_global')")
    if ! pg_h_run_as "$PG_H_BIN/pg_basebackup" -h 127.0.0.1 -p "$pport" -U "$PG_H_SUPERUSER" \
            -D "$dir" -R -X stream -c fast -N "${maps[@]}" \
            >"$PG_H_ROOT/log/basebackup-$(basename "$dir").log" 2>&1; then
        pg_h__err "pg_basebackup for $dir failed:"
        tail -n 20 "$PG_H_ROOT/log/basebackup-$(basename "$dir").log" >&2
        return 1
    fi
    pg_h_start "$dir" "$port" || return 1
    for _ in $(seq 1 300); do
        [ "$(pg_h_psql "$port" "select status from pg_stat_wal_receiver" 2>/dev/null)" = streaming ] && return 0
        sleep 0.1
    done
    pg_h__err "standby $dir on port $port is not streaming after 30 s"
    return 1
}

pg_h_wait_replay() {
    local pport=$1 sport=$2 timeout_s=${3:-30} lsn _
    lsn=$(pg_h_psql "$pport" "select pg_current_wal_lsn()") || return 1
    for _ in $(seq 1 $((timeout_s * 10))); do
        [ "$(pg_h_psql "$sport" "select pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")" = t ] && return 0
        sleep 0.1
    done
    pg_h__err "standby on port $sport did not replay $lsn within $timeout_s s"
    return 1
}

pg_h_cleanup() {
    [ -n "$PG_H_ROOT" ] && [ -d "$PG_H_ROOT" ] || return 0
    local dir
    while IFS= read -r dir; do
        [ -f "$dir/postmaster.pid" ] || continue
        pg_h_run_as "$PG_H_BIN/pg_ctl" -D "$dir" -m immediate -w -t 30 stop >/dev/null 2>&1
    done <"$PG_H_ROOT/.instances"
    if [ "${PG_H_KEEP:-0}" = 1 ]; then
        pg_h__err "kept $PG_H_ROOT (PG_H_KEEP=1)"
        return 0
    fi
    rm -rf "$PG_H_ROOT"
    [ "$PG_H_SOCK" != "$PG_H_ROOT" ] && rm -rf "$PG_H_SOCK"
    PG_H_ROOT=
    PG_H_SOCK=
    return 0
}
