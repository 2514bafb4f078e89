#!/usr/bin/env bash
# Archive engine benchmark (called at the end of tests/bench/run_bench.sh, or run directly):
# one throwaway PostgreSQL 15 (tests/pg/pg_harness.sh), one local repository, side by side:
#   base backup  backupctl backup-push (zstd 1; zstd workers 0 and 2), pg_basebackup -Ft -X none
#                with server-zstd:1 and client-zstd:1, pgBackRest full zst:1 at process-max 1 and 2
#   restore      backupctl backup-fetch (concurrency 1/2, fsync and --no-fsync) vs pgbackrest restore
#   WAL          wal-push of BENCH_WAL_SEGMENTS real segments, one call each, vs pgbackrest
#                archive-push; wal-fetch of the same segments (prefetch on) vs pgbackrest archive-get;
#                a real PITR replaying them through `backupctl wal-fetch` (is replay or fetch the bound?)
# Backups and restores run BENCH_REPS times, interleaved, and the median is reported.
# Replaces the "## Archive engine" section of docs/benchmarks.md (other sections are kept).
# Knobs: BENCH_SCALE (pgbench scale, default 100), BENCH_WAL_SEGMENTS (default 200), BENCH_REPS
# (default 3), BENCH_PROFILE=0 to skip the perf profiles taken when a target is missed, BENCH_DOC.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
SCALE=${BENCH_SCALE:-100}
NWAL=${BENCH_WAL_SEGMENTS:-200}
REPS=${BENCH_REPS:-3}
DOC=${BENCH_DOC:-docs/benchmarks.md}
PROFILE=${BENCH_PROFILE:-1}
export TEST_TMP=${TEST_TMP:-/tmp}
started=$(date +%s)
say() { echo "archive-bench: $*"; }
die() { echo "archive-bench: FAILED: $*" >&2; exit 1; }

for tool in pgbackrest /usr/bin/time; do
  command -v "$tool" >/dev/null || die "$tool is missing (bash tests/deps.sh installs it)"
done
. tests/pg/pg_harness.sh
trap pg_h_cleanup EXIT
pg_h_setup || die "cannot set up the PostgreSQL harness"
R=$PG_H_ROOT                       # everything below lives here, owned by the pg user
CTL=$(pg_h_install_bin "$PWD/$BUILD/bin/backupctl") || die "cannot install backupctl"
OUT=$R/out; mkdir -p "$OUT"        # root-side logs and timing files
for d in repo repo/pgbackrest cap pbb br; do pg_h_mkdir "$R/$d" || die "mkdir $d"; done
URL="file://$R/repo/walg"
CAP=$R/cap
PGDATA=$(pg_h_dir primary)
TCK=$(getconf CLK_TCK)

# ---- helpers ----

# CPU ticks (user+sys, own and reaped children) of every live process under the postmaster:
# the server-side share of a backup (walsender reading files and, with server-zstd, compressing).
server_ticks() {
  local pm; pm=$(head -1 "$PGDATA/postmaster.pid")
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$pm" '
    { pid = $1; line = $0; sub(/^[0-9]+ \(.*\) /, "", line); split(line, f, " ")
      ppid[pid] = f[2]; t[pid] = f[12] + f[13] + f[14] + f[15] }
    END { s = 0
          for (p in t) { q = p; n = 0
            while (q != "" && q != 0 && q != root && n++ < 64) q = ppid[q]
            if (q == root) s += t[p] }
          print s }'
}

# timed NAME CMD...: runs CMD as the pg user under /usr/bin/time -f '%e %U %S %M'; appends
# "wall cpu rss_mib server_cpu" to $OUT/NAME.runs and sets T_WALL T_CPU T_RSS T_SRV.
# stdout -> $OUT/NAME.out, stderr -> $OUT/NAME.err (last run).
timed() {
  local name=$1; shift
  local before after u s kib
  sync
  before=$(server_ticks)
  if ! pg_h_run_as /usr/bin/time -f '%e %U %S %M' -o "$R/tmp/time.$name" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"; then
    echo "archive-bench: $name failed:" >&2; tail -5 "$OUT/$name.err" >&2
    return 1
  fi
  sleep 0.3                         # let the postmaster reap the walsender
  after=$(server_ticks)
  read -r T_WALL u s kib <"$R/tmp/time.$name"
  T_CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.1f", u + s }')
  T_RSS=$(( kib / 1024 ))
  T_SRV=$(awk -v d=$((after - before)) -v t="$TCK" 'BEGIN { printf "%.1f", d / t }')
  echo "$T_WALL $T_CPU $T_RSS $T_SRV" >>"$OUT/$name.runs"
}

# median_run NAME: sets M_WALL M_CPU M_RSS M_SRV from the run with the median wall time, M_RANGE
# to "min-max" seconds over all runs
median_run() {
  local line
  line=$(sort -n "$OUT/$1.runs" | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }')
  read -r M_WALL M_CPU M_RSS M_SRV <<<"$line"
  M_RANGE=$(sort -n "$OUT/$1.runs" | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%s-%s", a, b }')
}

mibs() { awk -v b="$1" -v s="$2" 'BEGIN { if (s <= 0) s = 0.01; printf "%.0f", b / 1048576 / s }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0 || a == "-" || b == "-") print "n/a"; else printf "%.2f", a / b }'; }
dusize() { du -sb "$@" | awk '{ s += $1 } END { print s + 0 }'; }

# stats FILE: one microsecond value a line -> "n mean_ms p50_ms p95_ms max_ms"
stats() {
  sort -n "$1" | awk '{ v[NR] = $1; s += $1 }
    END { if (NR == 0) { print "0 - - - -"; exit }
          i50 = int(0.50 * NR + 0.999); i95 = int(0.95 * NR + 0.999)
          printf "%d %.1f %.1f %.1f %.1f\n", NR, s / NR / 1000, v[i50] / 1000, v[i95] / 1000, v[NR] / 1000 }'
}

# ---- machine, disk ----

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
MEM=$(free -g | awk '/Mem:/ {print $2" GiB"}')
FS=$(df -T "$R" | awk 'NR == 2 { print $2 " on " $1 }')
say "disk write rate (dd 2 GiB into $R, 3 times each)"
dd_rate() {   # dd flags... -> median MiB/s of 3 runs
  local secs
  for _ in 1 2 3; do
    rm -f "$R/dd.bin"; sync
    /usr/bin/time -f '%e' -o "$OUT/dd.time" dd if=/dev/zero of="$R/dd.bin" bs=8M count=256 "$@" 2>/dev/null
    secs=$(tail -1 "$OUT/dd.time")
    awk -v s="$secs" 'BEGIN { if (s <= 0) s = 0.01; printf "%.0f\n", 2048 / s }'
  done | sort -n | sed -n 2p
  rm -f "$R/dd.bin"; sync
}
DD_FSYNC=$(dd_rate conv=fsync)
DD_DIRECT=$(dd_rate oflag=direct)
say "dd conv=fsync: $DD_FSYNC MiB/s, oflag=direct: $DD_DIRECT MiB/s"
DISK_RATE=$DD_FSYNC   # restores write through the page cache and fsync, as conv=fsync does

# ---- cluster and data ----

P1=$(pg_h_free_port)
PG_H_EXTRA_CONF="max_wal_size = '4GB'
checkpoint_timeout = '30min'
autovacuum = off" pg_h_init primary "test ! -f $CAP/%f && cp %p $CAP/%f" >/dev/null || die "initdb"
pg_h_start primary "$P1" || die "start primary"
CONN=$(pg_h_conninfo "$P1")
say "PostgreSQL 15 on 127.0.0.1:$P1, WAL archived by cp into $CAP"

# B0: a backup of the empty cluster, the base for the PITR replay of the captured WAL
pg_h_run_as "$CTL" backup-push --repo "$URL" -d "$CONN" >"$OUT/b0.out" 2>"$OUT/b0.err" || die "backup-push of the empty cluster"
B0=$(tail -1 "$OUT/b0.out")

t0=$(date +%s)
pg_h_run_as "$PG_H_BIN/pgbench" -q -i -s "$SCALE" -h 127.0.0.1 -p "$P1" -U postgres postgres >"$OUT/pgbench-init.log" 2>&1 || die "pgbench -i"
say "pgbench -i -s $SCALE took $(( $(date +%s) - t0 )) s"

wait_archived() {
  for _ in $(seq 600); do
    [ -z "$(find "$PGDATA/pg_wal/archive_status" -name '*.ready' -print -quit)" ] && return 0
    sleep 0.2
  done
  die "WAL archiving does not keep up"
}
segments() { find "$CAP" -maxdepth 1 -regextype posix-extended -regex '.*/[0-9A-F]{24}' -printf '%f\n' | sort; }
# If pgbench -i wrote fewer segments than needed: copy accounts into a scratch table 200000 rows
# at a time (heap inserts, as COPY writes), then drop it, so the backed-up data stays pgbench's.
pg_h_psql "$P1" "CREATE TABLE walfill (LIKE pgbench_accounts)" >/dev/null
rounds=0 lo=0
while :; do
  pg_h_psql "$P1" "SELECT pg_switch_wal()" >/dev/null
  wait_archived
  [ "$(segments | wc -l)" -gt "$NWAL" ] && break
  rounds=$((rounds + 1)); [ $rounds -le 2000 ] || die "cannot generate $NWAL WAL segments"
  pg_h_psql "$P1" "INSERT INTO walfill SELECT * FROM pgbench_accounts WHERE aid > $lo AND aid <= $((lo + 200000))" >/dev/null
  lo=$(( (lo + 200000) % (SCALE * 100000) ))
done
segments | head -n "$NWAL" >"$OUT/segments.txt"
pg_h_psql "$P1" "DROP TABLE walfill" >/dev/null
pg_h_psql "$P1" "CHECKPOINT" >/dev/null
sync
DATA_BYTES=$(du -sb --exclude=pg_wal "$PGDATA" | cut -f1)
DATA_MIB=$(mib "$DATA_BYTES")
say "data directory without pg_wal: $DATA_MIB MiB; $NWAL WAL segments captured ($rounds extra rounds)"

# ---- pgBackRest stanza ----

BRCONF=$R/pgbackrest.conf
cat >"$BRCONF" <<EOF
[global]
repo1-path=$R/repo/pgbackrest
repo1-retention-full=99
log-path=$R/br/log
lock-path=$R/br/lock
spool-path=$R/br/spool
log-level-console=warn
log-level-file=off
start-fast=y
compress-type=zst
compress-level=1
archive-async=n
archive-check=n
archive-copy=n

[bench]
pg1-path=$PGDATA
pg1-port=$P1
pg1-socket-path=$PG_H_SOCK
pg1-user=postgres
EOF
chmod 0644 "$BRCONF"
BR=(pgbackrest --config="$BRCONF" --stanza=bench)
pg_h_run_as "${BR[@]}" stanza-create >"$OUT/stanza.log" 2>&1 || { cat "$OUT/stanza.log"; die "pgbackrest stanza-create"; }

# ---- base backups ----

declare -A BK_NAME BK_SIZE BK_RATE
walg_size() { dusize "$R/repo/walg/basebackups_005/$1" "$R/repo/walg/basebackups_005/$1_backup_stop_sentinel.json"; }
BACKUPS=(ours1 ours2 pbb_server pbb_client br1 br2)
declare -A BK_LABEL=(
  [ours1]="backupctl backup-push zstd:1"
  [ours2]="backupctl backup-push zstd:1 --threads 2"
  [pbb_server]="pg_basebackup -Ft -X none --compress=server-zstd:1"
  [pbb_client]="pg_basebackup -Ft -X none --compress=client-zstd:1"
  [br1]="pgbackrest backup --type=full zst:1 process-max=1"
  [br2]="pgbackrest backup --type=full zst:1 process-max=2")
run_backup() {   # KEY: one timed run, records the name and stored size
  local k=$1 d label
  case $k in
    ours1|ours2)
      local extra=(); [ "$k" = ours2 ] && extra=(--threads 2)
      timed "$k" "$CTL" backup-push --repo "$URL" -d "$CONN" --compression zstd --level 1 "${extra[@]}" || return 1
      BK_NAME[$k]=$(tail -1 "$OUT/$k.out"); BK_SIZE[$k]=$(walg_size "${BK_NAME[$k]}") ;;
    pbb_server|pbb_client)
      d=$R/pbb/$k; rm -rf "$d"; pg_h_mkdir "$d"
      timed "$k" "$PG_H_BIN/pg_basebackup" -h 127.0.0.1 -p "$P1" -U postgres -D "$d" -Ft -X none -c fast \
        --compress="${k#pbb_}-zstd:1" || return 1
      BK_SIZE[$k]=$(dusize "$d"); rm -rf "$d" ;;
    br1|br2)
      timed "$k" "${BR[@]}" --type=full --process-max="${k#br}" backup || return 1
      label=$(pg_h_run_as "${BR[@]}" --output=json info | grep -o '"label":"[^"]*F"' | tail -1 | cut -d'"' -f4)
      BK_NAME[$k]=$label; BK_SIZE[$k]=$(dusize "$R/repo/pgbackrest/backup/bench/$label") ;;
  esac
}
for rep in $(seq "$REPS"); do
  for k in "${BACKUPS[@]}"; do
    run_backup "$k" || die "${BK_LABEL[$k]}"
    say "backup $rep/$REPS ${BK_LABEL[$k]}: ${T_WALL}s, client CPU ${T_CPU}s, server CPU ${T_SRV}s, RSS ${T_RSS} MiB"
  done
done
BROWS=()
for k in "${BACKUPS[@]}"; do
  median_run "$k"
  BK_RATE[$k]=$(mibs "$DATA_BYTES" "$M_WALL")
  BROWS+=("| ${BK_LABEL[$k]} | $M_WALL ($M_RANGE) | ${BK_RATE[$k]} | $M_CPU | $M_SRV | $M_RSS | $(mib "${BK_SIZE[$k]}") | $(ratio "$DATA_BYTES" "${BK_SIZE[$k]}") |")
done

# ---- restores ----

DEST=$R/restore
RESTORES=(ours_1_fsync br1 ours_2_fsync br2 ours_1_nofsync ours_2_nofsync)
declare -A RS_LABEL=(
  [ours_1_fsync]="backupctl backup-fetch --concurrency 1" [ours_2_fsync]="backupctl backup-fetch --concurrency 2"
  [ours_1_nofsync]="backupctl backup-fetch --concurrency 1 --no-fsync"
  [ours_2_nofsync]="backupctl backup-fetch --concurrency 2 --no-fsync"
  [br1]="pgbackrest restore process-max=1" [br2]="pgbackrest restore process-max=2")
declare -A RS_RATE
run_restore() {   # KEY
  local k=$1 c mode extra=()
  rm -rf "$DEST"
  case $k in
    ours_*)
      c=${k#ours_}; mode=${c#*_}; c=${c%%_*}
      [ "$mode" = nofsync ] && extra=(--no-fsync)
      timed "rs_$k" "$CTL" backup-fetch --repo "$URL" --concurrency "$c" --no-recovery-conf "${extra[@]}" \
        "$DEST" "${BK_NAME[ours1]}" || return 1 ;;
    br*)
      pg_h_mkdir "$DEST"
      timed "rs_$k" "${BR[@]}" --pg1-path="$DEST" --set="${BK_NAME[br2]}" --process-max="${k#br}" restore || return 1 ;;
  esac
  [ "$(du -sb --exclude=pg_wal "$DEST" | cut -f1)" -ge $((DATA_BYTES * 9 / 10)) ] || die "$k restored too little"
}
for rep in $(seq "$REPS"); do
  for k in "${RESTORES[@]}"; do
    run_restore "$k" || die "${RS_LABEL[$k]}"
    say "restore $rep/$REPS ${RS_LABEL[$k]}: ${T_WALL}s, CPU ${T_CPU}s, RSS ${T_RSS} MiB"
  done
done
rm -rf "$DEST"; sync
RROWS=()
for k in ours_1_fsync ours_1_nofsync ours_2_fsync ours_2_nofsync br1 br2; do
  median_run "rs_$k"
  RS_RATE[$k]=$(mibs "$DATA_BYTES" "$M_WALL")
  RROWS+=("| ${RS_LABEL[$k]} | $M_WALL ($M_RANGE) | ${RS_RATE[$k]} | $M_CPU | $M_RSS |")
done

# ---- WAL: push ----

# seq_loop OUTFILE LIST DEST CMD...: runs CMD once per name in LIST (@SEG@ -> name, @DEST@ ->
# DEST), sequentially, each call's stderr appended to OUTFILE.err; OUTFILE gets "name
# microseconds exit-status hit|miss" lines (bash's $EPOCHREALTIME: no extra fork in the timing;
# hit = the call said it took the segment from the prefetch cache). With DEST, the fetched file
# is removed after each call; with READY_DIR, NAME.ready becomes NAME.done there, as the archiver does.
cat >"$R/bin/seq_loop.sh" <<'EOF'
#!/usr/bin/env bash
out=$1 list=$2 dest=$3; shift 3
: >"$out"; : >"$out.err"
while read -r seg; do
  args=("${@//@SEG@/$seg}"); args=("${args[@]//@DEST@/$dest}")
  s=$EPOCHREALTIME; "${args[@]}" 2>"$out.one"; rc=$?; e=$EPOCHREALTIME
  kind=miss; msg=
  while IFS= read -r line; do msg+="$line"$'\n'; done <"$out.one"
  case $msg in *"from the prefetch cache"*) kind=hit ;; esac
  printf '%s' "$msg" >>"$out.err"
  echo "$seg $(( ${e/./} - ${s/./} )) $rc $kind" >>"$out"
  [ -z "$dest" ] || rm -f "$dest"
  [ -z "${READY_DIR:-}" ] || mv "$READY_DIR/$seg.ready" "$READY_DIR/$seg.done"
done <"$list"
rm -f "$out.one"
exit 0
EOF
chmod 0755 "$R/bin/seq_loop.sh"
cp "$OUT/segments.txt" "$R/tmp/segments.txt"
WAL_SRC=$R/walsrc; pg_h_mkdir "$WAL_SRC"
BACKLOG=$R/backlog/pg_wal; pg_h_mkdir "$BACKLOG/archive_status"
while read -r seg; do
  ln "$CAP/$seg" "$WAL_SRC/$seg"
  ln "$CAP/$seg" "$BACKLOG/$seg"; : >"$BACKLOG/archive_status/$seg.ready"
done <"$OUT/segments.txt"
chown -R "$PG_H_USER:" "$BACKLOG"

WROWS=()
wal_row() {   # LABEL LATFILE [FILTER hit|miss] [NOTE]: adds a table row from a seq_loop file
  local n mean p50 p95 max fails sel=${3:-}
  awk -v k="$sel" 'k == "" || $4 == k { print $2 }' "$2" >"$2.$sel.us"
  read -r n mean p50 p95 max < <(stats "$2.$sel.us")
  fails=$(awk '$3 != 0' "$2" | wc -l)
  [ "$fails" -eq 0 ] || die "$1: $fails calls failed (see $2 and $2.err)"
  if [ -n "$sel" ]; then
    WROWS+=("| &nbsp;&nbsp;$1 | $n | $mean | $p50 | $p95 | $max | | | ${4:-} |")
  else
    WROWS+=("| $1 | $n | $mean | $p50 | $p95 | $max | $T_CPU | $T_RSS | ${4:-} |")
  fi
  say "$1: n=$n mean ${mean} ms p50 $p50 p95 ${p95} ms max ${max} ms ${4:-}"
  L_N=$n L_MEAN=$mean L_P95=$p95
}
loop() {   # NAME LIST DEST CMD...: timed seq_loop, results in $OUT/NAME.lat(.err)
  local name=$1 list=$2 dest=$3; shift 3
  timed "$name" "$R/bin/seq_loop.sh" "$R/tmp/$name.lat" "$list" "$dest" "$@" || die "$name loop"
  cp "$R/tmp/$name.lat" "$R/tmp/$name.lat.err" "$OUT/"
}

loop push_ours "$R/tmp/segments.txt" "" "$CTL" wal-push --repo "$URL" "$WAL_SRC/@SEG@"
PUSH_OURS_SIZE=$(dusize "$R/repo/walg/wal_005")
wal_row "backupctl wal-push (zstd:1)" "$OUT/push_ours.lat" "" "$(mib "$PUSH_OURS_SIZE") MiB stored"
PUSH_MEAN=$L_MEAN PUSH_P95=$L_P95
loop push_br "$R/tmp/segments.txt" "" "${BR[@]}" archive-push "$WAL_SRC/@SEG@"
PUSH_BR_SIZE=$(dusize "$R/repo/pgbackrest/archive/bench")
wal_row "pgbackrest archive-push (zst:1)" "$OUT/push_br.lat" "" "$(mib "$PUSH_BR_SIZE") MiB stored"
BRPUSH_MEAN=$L_MEAN
# the same calls from a pg_wal holding all of them as .ready (an archiver catching up): the
# first call also pushes the other .ready files on worker threads, later calls find them done
READY_DIR=$BACKLOG/archive_status loop push_backlog "$R/tmp/segments.txt" "" \
  "$CTL" wal-push --repo "file://$R/repo/walg-backlog" "$BACKLOG/@SEG@"
BACKLOG_WALL=$(awk '{ s += $2 } END { printf "%.1f", s / 1e6 }' "$OUT/push_backlog.lat")
wal_row "backupctl wal-push, $NWAL .ready files in pg_wal (backlog)" "$OUT/push_backlog.lat" "" \
  "$BACKLOG_WALL s for all, $(mibs $((NWAL * 16777216)) "$BACKLOG_WALL") MiB/s"

# ---- WAL: fetch ----

FD=$R/fetch_ours/pg_wal; GD=$R/fetch_br/pg_wal
pg_h_mkdir "$FD"; pg_h_mkdir "$GD"
loop fetch_ours "$R/tmp/segments.txt" "$FD/RECOVERYXLOG" "$CTL" wal-fetch --repo "$URL" @SEG@ @DEST@
sleep 1   # let the last prefetcher finish before the next test
# the engine's own time for a hit, from its log line "(16777216 bytes, N ms)": the rest is exec
HIT_ENGINE=$(grep -o 'from the prefetch cache ([0-9]* bytes, [0-9]* ms)' "$OUT/fetch_ours.lat.err" \
  | awk '{ gsub(/[()]/, ""); s += $(NF - 1); n++ } END { if (n) printf "%.1f", s / n; else print "-" }')
wal_row "backupctl wal-fetch (prefetch 8), back to back" "$OUT/fetch_ours.lat"
FETCH_MEAN=$L_MEAN
wal_row "of which from the prefetch cache" "$OUT/fetch_ours.lat" hit "engine time $HIT_ENGINE ms"
HIT_N=$L_N HIT_MEAN=$L_MEAN
wal_row "of which from the repository" "$OUT/fetch_ours.lat" miss
loop fetch_br "$R/tmp/segments.txt" "$GD/RECOVERYXLOG" "${BR[@]}" archive-get @SEG@ @DEST@
wal_row "pgbackrest archive-get" "$OUT/fetch_br.lat"
BRFETCH_MEAN=$L_MEAN

# ---- PITR: replay the same segments from B0 through backupctl wal-fetch ----

cat >"$R/bin/fetch_timed.sh" <<EOF
#!/usr/bin/env bash
# restore_command wrapper: times each backupctl wal-fetch call (same line format as seq_loop.sh)
s=\$EPOCHREALTIME; "$CTL" wal-fetch --repo "$URL" "\$1" "\$2" 2>"$R/tmp/pitr.one"; rc=\$?; e=\$EPOCHREALTIME
msg=; while IFS= read -r line; do msg+="\$line"\$'\\n'; done <"$R/tmp/pitr.one"
kind=miss; case \$msg in *"from the prefetch cache"*) kind=hit ;; esac
printf '%s' "\$msg" >>"$R/tmp/pitr.lat.err"
echo "\$1 \$(( \${e/./} - \${s/./} )) \$rc \$kind" >>"$R/tmp/pitr.lat"
exit \$rc
EOF
chmod 0755 "$R/bin/fetch_timed.sh"
PITR=$(pg_h_dir pitr)
pg_h_run_as "$CTL" backup-fetch --repo "$URL" --restore-command "$R/bin/fetch_timed.sh %f %p" "$PITR" "$B0" \
  >"$OUT/pitr-fetch.log" 2>&1 || die "backup-fetch of the empty-cluster backup"
echo "archive_mode = off" | pg_h_run_as tee -a "$PITR/pg_harness.conf" >/dev/null
P3=$(pg_h_free_port)
t0=$EPOCHREALTIME
pg_h_start pitr "$P3" || die "start the PITR cluster"
for _ in $(seq 3000); do
  [ "$(pg_h_psql "$P3" "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && break
  sleep 0.1
done
t1=$EPOCHREALTIME
[ "$(pg_h_psql "$P3" "SELECT pg_is_in_recovery()")" = f ] || die "PITR recovery did not finish"
PITR_S=$(awk -v a="${t0/./}" -v b="${t1/./}" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
pg_h_stop pitr
cp "$R/tmp/pitr.lat" "$R/tmp/pitr.lat.err" "$OUT/"
grep -E '^[0-9A-F]{24} [0-9]+ 0 ' "$OUT/pitr.lat" >"$OUT/pitr_seg.lat"
PITR_NSEG=$(wc -l <"$OUT/pitr_seg.lat")
PITR_ALL_S=$(awk '{ s += $2 } END { printf "%.1f", s / 1e6 }' "$OUT/pitr.lat")
awk '{ print $2 }' "$OUT/pitr_seg.lat" >"$OUT/pitr_seg.us"; read -r _ PITR_MEAN _ _ _ < <(stats "$OUT/pitr_seg.us")
awk '$4 == "hit" { print $2 }' "$OUT/pitr_seg.lat" >"$OUT/pitr_hit.us"
read -r PITR_HITS PITR_HIT_MEAN PITR_HIT_P50 PITR_HIT_P95 _ < <(stats "$OUT/pitr_hit.us")
PITR_FRAC=$(awk -v f="$PITR_ALL_S" -v t="$PITR_S" 'BEGIN { printf "%.0f", 100 * f / t }')
REPLAY_RATE=$(awk -v n="$PITR_NSEG" -v t="$PITR_S" -v f="$PITR_ALL_S" 'BEGIN { printf "%.0f", n * 16 / (t - f) }')
FETCH_RATE=$(awk -v m="$PITR_MEAN" 'BEGIN { if (m <= 0) m = 0.01; printf "%.0f", 16 / (m / 1000) }')
say "PITR: $PITR_NSEG segments in ${PITR_S}s, ${PITR_ALL_S}s of it in restore_command ($PITR_FRAC %), $PITR_HITS cache hits (mean $PITR_HIT_MEAN ms)"

# process start-up alone: an empty program linked like backupctl (same pkg-config libraries)
STARTUP_MS=- TRUE_MS=- LIBS_N=-
# shellcheck disable=SC2046   # pkg-config's output is a word list
if command -v cc >/dev/null && echo 'int main(void) { return 0; }' >"$OUT/empty.c" &&
   cc -O2 "$OUT/empty.c" -o "$R/bin/empty_linked" -Wl,--no-as-needed $(pkg-config --libs libcurl libssl \
     libcrypto libzstd liblz4 liblzma libbrotlienc libbrotlidec lzo2 libpq json-c yaml-0.1 libxml-2.0) 2>/dev/null; then
  LIBS_N=$(ldd "$R/bin/empty_linked" | wc -l)
  for _ in $(seq 100); do
    s=$EPOCHREALTIME; "$R/bin/empty_linked"; e=$EPOCHREALTIME; echo $(( ${e/./} - ${s/./} ))
  done >"$OUT/startup.us"
  read -r _ _ STARTUP_MS _ _ < <(stats "$OUT/startup.us")
  for _ in $(seq 100); do
    s=$EPOCHREALTIME; /bin/true; e=$EPOCHREALTIME; echo $(( ${e/./} - ${s/./} ))
  done >"$OUT/true.us"
  read -r _ _ TRUE_MS _ _ < <(stats "$OUT/true.us")
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- targets ----

met() { if [ "$1" = 1 ]; then echo "**met**"; else echo "**not met**"; fi; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "n/a" && a + 0 >= b + 0) ? 1 : 0 }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "-" && a + 0 < b + 0) ? 1 : 0 }'; }
R_B1=$(ratio "${BK_RATE[ours1]}" "${BK_RATE[br1]}"); R_B2=$(ratio "${BK_RATE[ours2]}" "${BK_RATE[br2]}")
R_R1=$(ratio "${RS_RATE[ours_1_fsync]}" "${RS_RATE[br1]}"); R_R2=$(ratio "${RS_RATE[ours_2_fsync]}" "${RS_RATE[br2]}")
BEST_RS=$(printf '%s\n' "${RS_RATE[ours_1_fsync]}" "${RS_RATE[ours_2_fsync]}" | sort -n | tail -1)
R_DISK=$(ratio "$BEST_RS" "$DISK_RATE"); R_DIRECT=$(ratio "$BEST_RS" "$DD_DIRECT")
MAX_RSS=$(cat "$OUT"/ours1.runs "$OUT"/ours2.runs "$OUT"/rs_ours_*.runs "$OUT"/push_ours.runs "$OUT"/push_backlog.runs "$OUT"/fetch_ours.runs \
  | awk '$3 > m { m = $3 } END { print m + 0 }')
M_B1=$(ge "$R_B1" 1.5); M_B2=$(ge "$R_B2" 1.5)
M_R=$(( $(ge "$R_R1" 1) & $(ge "$R_R2" 1) )); M_RD=$(ge "$R_DISK" 0.8); M_RDD=$(ge "$R_DIRECT" 0.8)
M_RSS=$(lt "$MAX_RSS" 64); M_PUSH=$(lt "$PUSH_MEAN" 50)
M_HIT=$(lt "$PITR_HIT_MEAN" 5)
M_PITR=$(lt "$PITR_FRAC" 50)

# ---- profiles where a target is missed ----

PROF_TXT=""
prof() {   # NAME TITLE CMD...: perf record -g as root around CMD run as the pg user
  local name=$1 title=$2; shift 2
  (cd "$R" && perf record -q -g -o "$OUT/$name.perf" -- setpriv --reuid="$PG_H_USER" \
     --regid="$(id -g "$PG_H_USER")" --init-groups -- env HOME="$R" TMPDIR="$R/tmp" "$@") \
     >"$OUT/$name.prof.out" 2>"$OUT/$name.prof.err" || { say "perf $name failed"; return 1; }
  perf report -q -i "$OUT/$name.perf" --no-children --sort comm,dso --stdio -g none 2>/dev/null \
    | awk '$2 == "backupctl" { printf "%9s  %s\n", $1, $3 }' | head -6 >"$OUT/$name.dso"
  perf report -q -i "$OUT/$name.perf" --comm backupctl --no-children --sort dso,sym --percent-limit 1.5 --stdio -g none \
    2>/dev/null | sed -e 's/[[:space:]]\+$//' -e '/^$/d' | grep -v 'libcrypto.so.3 *\[\.\] 0x' | head -10 >"$OUT/$name.sym"
  PROF_TXT+=$'\n'"$title"$'\n\n```\n'"$(cat "$OUT/$name.dso")"$'\n\n'"$(cat "$OUT/$name.sym")"$'\n```\n'
}
if [ "$PROFILE" = 1 ] && command -v perf >/dev/null; then
  if [ $((M_B1 & M_B2)) = 0 ]; then
    say "profiling backup-push"
    prof push "backup-push zstd:1, self time of the backupctl process by library, then by symbol (>= 1.5 %; libcrypto has no symbols):" \
      "$CTL" backup-push --repo "$URL" -d "$CONN" --compression zstd --level 1
  fi
  if [ $((M_R & M_RD)) = 0 ]; then
    say "profiling backup-fetch"
    rm -rf "$DEST"
    prof fetch "backup-fetch --concurrency 1, self time by library, then by symbol (>= 1.5 %):" \
      "$CTL" backup-fetch --repo "$URL" --concurrency 1 --no-recovery-conf "$DEST" "${BK_NAME[ours1]}"
    rm -rf "$DEST"
  fi
  if [ "$M_PUSH" = 0 ]; then
    say "profiling wal-push"
    head -20 "$OUT/segments.txt" >"$R/tmp/segments20.txt"
    prof walpush "20 wal-push calls, self time of the backupctl processes by library, then by symbol (>= 1.5 %):" \
      "$R/bin/seq_loop.sh" "$R/tmp/prof.lat" "$R/tmp/segments20.txt" "" "$CTL" wal-push --repo "file://$R/repo/walg-prof" "$WAL_SRC/@SEG@"
  fi
fi

# ---- write the section ----

SECTION=$OUT/section.md
{
  echo "## Archive engine"
  echo
  echo "Written by tests/bench/run_archive_bench.sh (the last step of \`make bench\`). One throwaway PostgreSQL 15"
  echo "(tests/pg/pg_harness.sh: server fsync=off, data checksums, autovacuum off), one local repository"
  echo "directory on the same disk (ours under \`walg/\`, pgBackRest's under \`pgbackrest/\`)."
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); whole run $(( $(date +%s) - started )) s"
  echo "- machine: $(nproc) cores ($CPU_MODEL), $MEM RAM, $(uname -sr), $FS"
  echo "- load average (1/5/15 min) at start $LOAD_START, at end $LOAD_END: the machine is shared, other"
  echo "  sessions' tests may run at the same time, so backups and restores run $REPS times, interleaved,"
  echo "  and the median is shown (range in brackets)"
  echo "- data: pgbench -i scale $SCALE; data directory without pg_wal $DATA_MIB MiB = the numerator of every MiB/s"
  echo "- versions: $("$PG_H_BIN/postgres" --version), $(pgbackrest version), zstd $(zstd -V 2>/dev/null | grep -o 'v[0-9.]*' | head -1)"
  echo "- disk: \`dd if=/dev/zero of=<bench dir>/dd.bin bs=8M count=256 conv=fsync\` (2 GiB through the page"
  echo "  cache, then fsync, as a restore writes; median of 3) = **$DD_FSYNC MiB/s**, the fsync-bound rate"
  echo "  used below; with \`oflag=direct\` instead = $DD_DIRECT MiB/s (virtio disk: the host caches it)"
  echo "- wall, client CPU (user+sys, children included) and peak RSS (largest single process) from"
  echo "  \`/usr/bin/time -f '%e %U %S %M'\`; server CPU = the change in user+sys ticks of every process"
  echo "  under the postmaster (walsender, checkpointer, reaped children)"
  echo
  echo "### Base backup"
  echo
  echo "| tool | seconds (range) | MiB/s | client CPU s | server CPU s | peak RSS MiB | stored MiB | compression |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${BROWS[@]}"
  echo
  echo "Ours vs pgBackRest at equal parallelism: **${R_B1}x** (zstd on the reading thread vs process-max=1),"
  echo "**${R_B2}x** (\`--threads 2\` zstd workers vs process-max=2). Against pg_basebackup server-zstd:"
  echo "$(ratio "${BK_RATE[ours1]}" "${BK_RATE[pbb_server]}")x, client-zstd: $(ratio "${BK_RATE[ours1]}" "${BK_RATE[pbb_client]}")x."
  echo "What each does beyond copying: backupctl asks for a SHA-256 backup_manifest (the server hashes"
  echo "every file), checks every file against it and keeps its own SHA-256 list (two more passes on"
  echo "the client), and lets the server wait in pg_backup_stop until the last WAL segment is archived"
  echo "(PostgreSQL polls that once a second); pg_basebackup \`-X none\` also waits and writes a CRC32C"
  echo "manifest; pgBackRest (\`archive-check=n\`, as WAL goes to \`cp\` here) does not wait and"
  echo "checksums files with SHA-1 once."
  echo
  echo "### Restore"
  echo
  echo "Of the backupctl zstd:1 backup (\`${BK_NAME[ours1]}\`) and of pgBackRest's process-max=2 backup,"
  echo "into an empty directory on the same disk; the repository files are in the page cache."
  echo
  echo "| tool | seconds (range) | MiB/s | CPU s | peak RSS MiB |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${RROWS[@]}"
  echo
  echo "Ours (fsync'd, the headline) vs pgBackRest (which fsyncs too): **${R_R1}x** at 1, **${R_R2}x** at 2."
  echo "Best fsync'd restore vs the disk's fsync-bound rate: **${R_DISK}** ($BEST_RS of $DISK_RATE MiB/s)."
  echo
  echo "### WAL"
  echo
  echo "$NWAL real 16 MiB segments (the first ones written after initdb: pgbench -i, then inserts into a"
  echo "scratch table if -i wrote fewer; captured by \`cp\`), one process per segment, sequentially, as"
  echo "PostgreSQL calls archive_command and restore_command. Milliseconds per call (wall, fork+exec"
  echo "included); CPU s and peak RSS for all $NWAL calls together. The first two push rows read the"
  echo "segments from a plain directory (no .ready files to push ahead: the steady state, one segment"
  echo "ready at a time). wal-fetch writes \`pg_wal/RECOVERYXLOG\` like recovery, calls back to back with"
  echo "no replay in between (the prefetcher's worst case: a call may wait for a segment being"
  echo "prefetched). pgBackRest runs with archive-async=n (no queue, no prefetch)."
  echo
  echo "| command | calls | mean | p50 | p95 | max | CPU s | peak RSS MiB | |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${WROWS[@]}"
  echo
  echo "pgBackRest mean / ours: wal-push **$(ratio "$BRPUSH_MEAN" "$PUSH_MEAN")x**, wal-fetch **$(ratio "$BRFETCH_MEAN" "$FETCH_MEAN")x**"
  echo "(above 1: ours is faster). Stored: ours $(mib "$PUSH_OURS_SIZE") MiB, pgBackRest $(mib "$PUSH_BR_SIZE") MiB for $((NWAL * 16)) MiB of WAL."
  echo
  echo "PITR: backup-fetch of a backup taken right after initdb, then PostgreSQL replays the $NWAL"
  echo "segments with \`restore_command\` = backupctl wal-fetch (prefetch 8, the default): recovery took"
  echo "**${PITR_S} s** ($PITR_NSEG segment fetches, $PITR_HITS from the prefetch cache: mean $PITR_HIT_MEAN ms,"
  echo "p50 $PITR_HIT_P50 ms, p95 $PITR_HIT_P95 ms); restore_command ran for ${PITR_ALL_S} s of it (**$PITR_FRAC %**;"
  echo "mean $PITR_MEAN ms a segment), so replay ran at about $REPLAY_RATE MiB/s of WAL while fetching alone"
  echo "would deliver about $FETCH_RATE MiB/s."
  echo
  echo "### Targets"
  echo
  echo "| target | result | |"
  echo "|---|---|---|"
  echo "| base backup >= 1.5x pgBackRest, equal parallelism | ${R_B1}x at 1, ${R_B2}x at 2 | $(met $((M_B1 & M_B2))) |"
  echo "| restore >= pgBackRest, equal parallelism | ${R_R1}x at 1, ${R_R2}x at 2 | $(met "$M_R") |"
  echo "| restore >= 80 % of the disk's fsync-bound write rate | $BEST_RS / $DISK_RATE MiB/s (conv=fsync) = ${R_DISK} | $(met "$M_RD") |"
  echo "| (same, against the O_DIRECT rate) | $BEST_RS / $DD_DIRECT MiB/s (oflag=direct) = ${R_DIRECT} | $(met "$M_RDD") |"
  echo "| peak RSS < 64 MiB (backup-push, backup-fetch, wal-push, wal-fetch) | $MAX_RSS MiB at scale $SCALE | $(met "$M_RSS") |"
  echo "| wal-push < 50 ms a segment | mean $PUSH_MEAN ms, p95 $PUSH_P95 ms | $(met "$M_PUSH") |"
  echo "| wal-fetch from the prefetch cache < 5 ms a segment | in the PITR: mean $PITR_HIT_MEAN ms, p50 $PITR_HIT_P50 ms ($PITR_HITS hits); back to back: mean $HIT_MEAN ms ($HIT_N hits); engine time $HIT_ENGINE ms | $(met "$M_HIT") |"
  echo "| replay, not fetching, bounds a PITR | fetching is $PITR_FRAC % of recovery time | $(met "$M_PITR") |"
  echo
  echo "Process start-up, for scale: exec of an empty program linked against the same $LIBS_N shared"
  echo "libraries as backupctl (curl, libpq, libxml2 with ICU, ...) takes $STARTUP_MS ms (p50), of /bin/true $TRUE_MS ms."
  if [ -n "$PROF_TXT" ]; then
    echo
    echo "### Profiles of the missed targets (perf record -g, same data)"
    printf '%s\n' "$PROF_TXT"
  fi
  if [ -f tests/bench/archive_notes.md ]; then
    echo
    cat tests/bench/archive_notes.md
  fi
} >"$SECTION"

if [ -f "$DOC" ]; then
  sed '/^## Archive engine/,$d' "$DOC" >"$OUT/doc.md"
  [ -n "$(tail -n1 "$OUT/doc.md")" ] && echo >>"$OUT/doc.md"
else
  printf '# Benchmarks\n\n' >"$OUT/doc.md"
fi
cat "$SECTION" >>"$OUT/doc.md"
mkdir -p "$(dirname "$DOC")"
cp "$OUT/doc.md" "$DOC"
say "wrote the \"## Archive engine\" section of $DOC ($(( $(date +%s) - started )) s)"
