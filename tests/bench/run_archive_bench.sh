#!/usr/bin/env bash
# Archive engine benchmark (called at the end of tests/bench/run_bench.sh, or run directly):
# one throwaway PostgreSQL 15 (tests/pg/pg_harness.sh), one local repository, side by side:
#   base backup  backupctl backup-push (zstd 1, zstd workers 0 and 2), pg_basebackup -Ft -X none
#                with server-zstd:1 and client-zstd:1, pgBackRest full zst:1 at process-max 1 and 2
#   restore      backupctl backup-fetch (concurrency 1/2, fsync and --no-fsync) vs pgbackrest restore
#   WAL          wal-push of BENCH_WAL_SEGMENTS real segments, one call each, vs pgbackrest
#                archive-push; wal-fetch of the same segments (prefetch on) vs pgbackrest archive-get;
#                a real PITR replaying them through `backupctl wal-fetch` (is replay or fetch the bound?)
# Replaces the "## Archive engine" section of docs/benchmarks.md (other sections are kept).
# Knobs: BENCH_SCALE (pgbench scale, default 100), BENCH_WAL_SEGMENTS (default 200),
# BENCH_PROFILE=0 to skip the perf profile taken when a target is missed, BENCH_DOC (output file).
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
SCALE=${BENCH_SCALE:-100}
NWAL=${BENCH_WAL_SEGMENTS:-200}
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
TIME_FMT='%e %U %S %M'
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

# timed NAME CMD...: runs CMD as the pg user under /usr/bin/time; sets T_WALL T_CPU (client
# user+sys s) T_RSS (MiB) T_SRV (server CPU s). stdout -> $OUT/NAME.out, stderr -> $OUT/NAME.err
timed() {
  local name=$1; shift
  local before after u s kib
  sync
  before=$(server_ticks)
  if ! pg_h_run_as /usr/bin/time -f "$TIME_FMT" -o "$R/tmp/time.$name" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"; then
    echo "archive-bench: $name failed:" >&2; tail -5 "$OUT/$name.err" >&2
    return 1
  fi
  sleep 0.3                         # let the postmaster reap the walsender
  after=$(server_ticks)
  read -r T_WALL u s kib <"$R/tmp/time.$name"
  T_CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.1f", u + s }')
  T_RSS=$(( kib / 1024 ))
  T_SRV=$(awk -v d=$((after - before)) -v t="$TCK" 'BEGIN { printf "%.1f", d / t }')
}

mibs() { awk -v b="$1" -v s="$2" 'BEGIN { if (s <= 0) s = 0.01; printf "%.0f", b / 1048576 / s }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) print "n/a"; else printf "%.2f", a / b }'; }
dusize() { du -sb "$@" | awk '{ s += $1 } END { print s + 0 }'; }

# stats FILE: per-line microsecond values -> "n mean_ms p50_ms p95_ms max_ms"
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
say "disk write rate (dd 2 GiB into $R)"
dd_rate() {   # dd flags... -> MiB/s
  local secs
  rm -f "$R/dd.bin"; sync
  /usr/bin/time -f '%e' -o "$OUT/dd.time" dd if=/dev/zero of="$R/dd.bin" bs=8M count=256 "$@" 2>/dev/null
  secs=$(tail -1 "$OUT/dd.time")
  rm -f "$R/dd.bin"
  awk -v s="$secs" 'BEGIN { if (s <= 0) s = 0.01; printf "%.0f", 2048 / s }'
}
DD_DIRECT=$(dd_rate oflag=direct)
DD_FSYNC=$(dd_rate conv=fsync)
say "dd oflag=direct: $DD_DIRECT MiB/s, buffered + conv=fsync: $DD_FSYNC MiB/s"
DISK_RATE=$DD_FSYNC   # restores write through the page cache and fsync: the buffered rate bounds them

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
# more WAL if pgbench -i did not write enough: bulk updates of 200000 accounts at a time
rounds=0 lo=0
while :; do
  pg_h_psql "$P1" "SELECT pg_switch_wal()" >/dev/null
  wait_archived
  [ "$(segments | wc -l)" -gt "$NWAL" ] && break
  rounds=$((rounds + 1)); [ $rounds -le 400 ] || die "cannot generate $NWAL WAL segments"
  pg_h_psql "$P1" "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid > $lo AND aid <= $((lo + 200000))" >/dev/null
  lo=$(( (lo + 200000) % (SCALE * 100000) ))
done
segments | head -n "$NWAL" >"$OUT/segments.txt"
pg_h_psql "$P1" "CHECKPOINT" >/dev/null
sync
DATA_BYTES=$(du -sb --exclude=pg_wal "$PGDATA" | cut -f1)
DATA_MIB=$(mib "$DATA_BYTES")
say "data directory without pg_wal: $DATA_MIB MiB; $(segments | wc -l) WAL segments captured (first $NWAL used)"

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

BROWS=()
declare -A BK_RATE BK_NAME
backup_row() {   # KEY LABEL SIZE_BYTES
  local rate; rate=$(mibs "$DATA_BYTES" "$T_WALL")
  BK_RATE[$1]=$rate
  BROWS+=("| $2 | $T_WALL | $rate | $T_CPU | $T_SRV | $T_RSS | $(mib "$3") | $(ratio "$DATA_BYTES" "$3") |")
  say "backup $2: ${T_WALL}s, $rate MiB/s, client CPU ${T_CPU}s, server CPU ${T_SRV}s, RSS ${T_RSS} MiB, $(mib "$3") MiB stored"
}
walg_size() { dusize "$R/repo/walg/basebackups_005/$1" "$R/repo/walg/basebackups_005/$1_backup_stop_sentinel.json"; }

timed ours1 "$CTL" backup-push --repo "$URL" -d "$CONN" --compression zstd --level 1 || die "backup-push"
BK_NAME[ours1]=$(tail -1 "$OUT/ours1.out")
backup_row ours1 "backupctl backup-push zstd:1" "$(walg_size "${BK_NAME[ours1]}")"
timed ours2 "$CTL" backup-push --repo "$URL" -d "$CONN" --compression zstd --level 1 --threads 2 || die "backup-push --threads 2"
BK_NAME[ours2]=$(tail -1 "$OUT/ours2.out")
backup_row ours2 "backupctl backup-push zstd:1 --threads 2" "$(walg_size "${BK_NAME[ours2]}")"

for where in server client; do
  d=$R/pbb/$where; pg_h_mkdir "$d"
  timed "pbb_$where" "$PG_H_BIN/pg_basebackup" -h 127.0.0.1 -p "$P1" -U postgres -D "$d" -Ft -X none \
    -c fast --compress="$where-zstd:1" || die "pg_basebackup $where-zstd"
  backup_row "pbb_$where" "pg_basebackup -Ft -X none --compress=$where-zstd:1" "$(dusize "$d")"
  rm -rf "$d"
done

for pm in 1 2; do
  timed "br$pm" "${BR[@]}" --type=full --process-max=$pm backup || die "pgbackrest backup --process-max=$pm"
  label=$(pg_h_run_as "${BR[@]}" --output=json info | grep -o '"label":"[^"]*F"' | tail -1 | cut -d'"' -f4)
  BK_NAME[br$pm]=$label
  backup_row "br$pm" "pgbackrest backup --type=full zst:1 process-max=$pm" "$(dusize "$R/repo/pgbackrest/backup/bench/$label")"
done

# ---- restores ----

RROWS=()
declare -A RS_RATE
restore_row() {   # KEY LABEL
  local rate; rate=$(mibs "$DATA_BYTES" "$T_WALL")
  RS_RATE[$1]=$rate
  RROWS+=("| $2 | $T_WALL | $rate | $T_CPU | $T_RSS |")
  say "restore $2: ${T_WALL}s, $rate MiB/s, CPU ${T_CPU}s, RSS ${T_RSS} MiB"
}
DEST=$R/restore
for c in 1 2; do
  for mode in fsync nofsync; do
    extra=(); [ $mode = nofsync ] && extra=(--no-fsync)
    rm -rf "$DEST"
    timed "rs_${c}_$mode" "$CTL" backup-fetch --repo "$URL" --concurrency $c --no-recovery-conf "${extra[@]}" \
      "$DEST" "${BK_NAME[ours1]}" || die "backup-fetch --concurrency $c $mode"
    [ "$(du -sb --exclude=pg_wal "$DEST" | cut -f1)" -ge $((DATA_BYTES * 9 / 10)) ] || die "backup-fetch restored too little"
    restore_row "ours_${c}_$mode" "backupctl backup-fetch --concurrency $c${extra:+ --no-fsync}"
  done
done
for pm in 1 2; do
  rm -rf "$DEST"; pg_h_mkdir "$DEST"
  timed "rs_br$pm" "${BR[@]}" --pg1-path="$DEST" --set="${BK_NAME[br2]}" --process-max=$pm restore \
    || die "pgbackrest restore --process-max=$pm"
  restore_row "br$pm" "pgbackrest restore process-max=$pm"
done
rm -rf "$DEST"; sync

# ---- WAL: push ----

WROWS=()
# seq_loop OUTFILE CMD...: runs CMD once per segment of segments.txt (@SEG@ -> name, @DEST@ ->
# destination), sequentially as the pg user, the whole loop under /usr/bin/time (total CPU, peak RSS);
# OUTFILE gets "segment microseconds exit-status" lines (bash's $EPOCHREALTIME, no extra fork).
cat >"$R/bin/seq_loop.sh" <<'EOF'
#!/usr/bin/env bash
out=$1 list=$2 dest=$3; shift 3
: >"$out"
while read -r seg; do
  args=("${@//@SEG@/$seg}"); args=("${args[@]//@DEST@/$dest}")
  s=$EPOCHREALTIME; "${args[@]}"; rc=$?; e=$EPOCHREALTIME
  echo "$seg $(( (${e/./} - ${s/./}) )) $rc" >>"$out"
  [ -z "$dest" ] || rm -f "$dest"
done <"$list"
exit 0
EOF
chmod 0755 "$R/bin/seq_loop.sh"
cp "$OUT/segments.txt" "$R/tmp/segments.txt"
WAL_SRC=$R/walsrc; pg_h_mkdir "$WAL_SRC"
while read -r seg; do ln "$CAP/$seg" "$WAL_SRC/$seg"; done <"$OUT/segments.txt"

wal_row() {   # LABEL LATFILE [EXTRA]
  local n mean p50 p95 max fails
  cut -d' ' -f2 "$2" >"$2.us"
  read -r n mean p50 p95 max < <(stats "$2.us")
  fails=$(awk '$3 != 0' "$2" | wc -l)
  WROWS+=("| $1 | $n | $mean | $p50 | $p95 | $max | $T_CPU | $T_RSS | ${3:-} |")
  say "$1: n=$n mean ${mean} ms p95 ${p95} ms max ${max} ms, CPU ${T_CPU}s, RSS ${T_RSS} MiB, failures $fails ${3:-}"
  [ "$fails" -eq 0 ] || die "$1: $fails calls failed (see $2)"
  LAST_MEAN=$mean LAST_P95=$p95
}

timed walpush "$R/bin/seq_loop.sh" "$R/tmp/push_ours.lat" "$R/tmp/segments.txt" "" \
  "$CTL" wal-push --repo "$URL" "$WAL_SRC/@SEG@" || die "wal-push loop"
cp "$R/tmp/push_ours.lat" "$OUT/"
PUSH_OURS_SIZE=$(dusize "$R/repo/walg/wal_005")
wal_row "backupctl wal-push (zstd:1)" "$OUT/push_ours.lat" "$(mib "$PUSH_OURS_SIZE") MiB stored"
PUSH_MEAN=$LAST_MEAN PUSH_P95=$LAST_P95
timed brpush "$R/bin/seq_loop.sh" "$R/tmp/push_br.lat" "$R/tmp/segments.txt" "" \
  "${BR[@]}" archive-push "$WAL_SRC/@SEG@" || die "archive-push loop"
cp "$R/tmp/push_br.lat" "$OUT/"
PUSH_BR_SIZE=$(dusize "$R/repo/pgbackrest/archive/bench")
wal_row "pgbackrest archive-push (zst:1)" "$OUT/push_br.lat" "$(mib "$PUSH_BR_SIZE") MiB stored"
BRPUSH_MEAN=$LAST_MEAN

# ---- WAL: fetch ----

FD=$R/fetch_ours/pg_wal; GD=$R/fetch_br/pg_wal
pg_h_mkdir "$FD"; pg_h_mkdir "$GD"
timed walfetch "$R/bin/seq_loop.sh" "$R/tmp/fetch_ours.lat" "$R/tmp/segments.txt" "$FD/RECOVERYXLOG" \
  "$CTL" -v wal-fetch --repo "$URL" @SEG@ @DEST@ || die "wal-fetch loop"
cp "$R/tmp/fetch_ours.lat" "$OUT/"
sleep 1   # let the last prefetcher finish before the next test
# a call that took the segment from the prefetch cache says so at -v
grep -o 'fetched [0-9A-F]\{24\} from the prefetch cache' "$OUT/walfetch.err" | awk '{ print $2 }' | sort -u >"$OUT/hits.txt"
awk 'NR == FNR { hit[$1] = 1; next } ($1 in hit)' "$OUT/hits.txt" "$OUT/fetch_ours.lat" >"$OUT/fetch_hits.lat"
awk 'NR == FNR { hit[$1] = 1; next } !($1 in hit)' "$OUT/hits.txt" "$OUT/fetch_ours.lat" >"$OUT/fetch_miss.lat"
wal_row "backupctl wal-fetch (prefetch 8), all calls" "$OUT/fetch_ours.lat"
FETCH_MEAN=$LAST_MEAN
cut -d' ' -f2 "$OUT/fetch_hits.lat" >"$OUT/fetch_hits.us"; read -r NHIT HIT_MEAN _ HIT_P95 HIT_MAX < <(stats "$OUT/fetch_hits.us")
cut -d' ' -f2 "$OUT/fetch_miss.lat" >"$OUT/fetch_miss.us"; read -r NMISS MISS_MEAN _ MISS_P95 MISS_MAX < <(stats "$OUT/fetch_miss.us")
WROWS+=("| &nbsp;&nbsp;of which prefetch-cache hits | $NHIT | $HIT_MEAN | | $HIT_P95 | $HIT_MAX | | | engine time __HIT_ENGINE__ ms |")
WROWS+=("| &nbsp;&nbsp;of which misses (fetched from the repository) | $NMISS | $MISS_MEAN | | $MISS_P95 | $MISS_MAX | | | |")
# the engine's own time for a hit, from its log line "(16777216 bytes, N ms)": the rest is exec
HIT_ENGINE=$(grep -o 'from the prefetch cache ([0-9]* bytes, [0-9]* ms)' "$OUT/walfetch.err" \
  | awk '{ gsub(/[()]/, ""); s += $(NF - 1); n++ } END { if (n) printf "%.1f", s / n; else print "-" }')
WROWS=("${WROWS[@]/__HIT_ENGINE__/$HIT_ENGINE}")
say "wal-fetch: $NHIT cache hits (mean $HIT_MEAN ms, p95 $HIT_P95 ms, engine $HIT_ENGINE ms), $NMISS misses (mean $MISS_MEAN ms)"
timed brfetch "$R/bin/seq_loop.sh" "$R/tmp/fetch_br.lat" "$R/tmp/segments.txt" "$GD/RECOVERYXLOG" \
  "${BR[@]}" archive-get @SEG@ @DEST@ || die "archive-get loop"
cp "$R/tmp/fetch_br.lat" "$OUT/"
wal_row "pgbackrest archive-get" "$OUT/fetch_br.lat"
BRFETCH_MEAN=$LAST_MEAN

# ---- PITR: replay the same segments from B0 through backupctl wal-fetch ----

cat >"$R/bin/fetch_timed.sh" <<EOF
#!/usr/bin/env bash
s=\$EPOCHREALTIME; "$CTL" -v wal-fetch --repo "$URL" "\$1" "\$2" 2>>"$R/tmp/pitr_fetch.err"; rc=\$?; e=\$EPOCHREALTIME
echo "\$1 \$(( (\${e/./} - \${s/./}) )) \$rc" >>"$R/tmp/pitr_fetch.lat"
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
cp "$R/tmp/pitr_fetch.lat" "$R/tmp/pitr_fetch.err" "$OUT/"
grep -E '^[0-9A-F]{24} ' "$OUT/pitr_fetch.lat" | awk '$3 == 0' >"$OUT/pitr_seg.lat"
PITR_NSEG=$(wc -l <"$OUT/pitr_seg.lat")
PITR_ALL_S=$(awk '{ s += $2 } END { printf "%.1f", s / 1e6 }' "$OUT/pitr_fetch.lat")
PITR_HITS=$(grep -c 'from the prefetch cache' "$OUT/pitr_fetch.err")
grep -o 'fetched [0-9A-F]\{24\} from the prefetch cache' "$OUT/pitr_fetch.err" | awk '{ print $2 }' | sort -u >"$OUT/pitr_hits.txt"
awk 'NR == FNR { hit[$1] = 1; next } ($1 in hit) { print $2 }' "$OUT/pitr_hits.txt" "$OUT/pitr_seg.lat" >"$OUT/pitr_hits.us"
read -r _ PITR_HIT_MEAN _ PITR_HIT_P95 _ < <(stats "$OUT/pitr_hits.us")
cut -d' ' -f2 "$OUT/pitr_seg.lat" >"$OUT/pitr_seg.us"; read -r _ PITR_MEAN _ PITR_P95 _ < <(stats "$OUT/pitr_seg.us")
PITR_FRAC=$(awk -v f="$PITR_ALL_S" -v t="$PITR_S" 'BEGIN { printf "%.0f", 100 * f / t }')
REPLAY_RATE=$(awk -v n="$PITR_NSEG" -v t="$PITR_S" -v f="$PITR_ALL_S" 'BEGIN { printf "%.0f", n * 16 / (t - f) }')
FETCH_RATE=$(awk -v m="$PITR_MEAN" 'BEGIN { if (m <= 0) m = 0.01; printf "%.0f", 16 / (m / 1000) }')
say "PITR: $PITR_NSEG segments restored in ${PITR_S}s, ${PITR_ALL_S}s of it in restore_command ($PITR_FRAC %), $PITR_HITS cache hits"

# process start-up alone: an empty program linked like backupctl (same pkg-config libraries)
STARTUP_MS=- TRUE_MS=- LIBS_N=-
# shellcheck disable=SC2046   # pkg-config's output is a word list
if command -v cc >/dev/null && echo 'int main(void) { return 0; }' >"$OUT/empty.c" &&
   cc -O2 "$OUT/empty.c" -o "$R/bin/empty_linked" -Wl,--no-as-needed $(pkg-config --libs libcurl libssl \
     libcrypto libzstd liblz4 liblzma libbrotlienc libbrotlidec lzo2 libpq json-c yaml-0.1 libxml-2.0) 2>/dev/null; then
  LIBS_N=$(ldd "$R/bin/empty_linked" | wc -l)
  for _ in $(seq 50); do
    s=$EPOCHREALTIME; "$R/bin/empty_linked"; e=$EPOCHREALTIME; echo $(( ${e/./} - ${s/./} ))
  done >"$OUT/startup.us"
  read -r _ STARTUP_MS _ _ _ < <(stats "$OUT/startup.us")
  for _ in $(seq 50); do
    s=$EPOCHREALTIME; /bin/true; e=$EPOCHREALTIME; echo $(( ${e/./} - ${s/./} ))
  done >"$OUT/true.us"
  read -r _ TRUE_MS _ _ _ < <(stats "$OUT/true.us")
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- targets ----

met() { if [ "$1" = 1 ]; then echo "**met**"; else echo "**not met**"; fi; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b) ? 1 : 0 }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b) ? 1 : 0 }'; }
R_B1=$(ratio "${BK_RATE[ours1]}" "${BK_RATE[br1]}"); R_B2=$(ratio "${BK_RATE[ours2]}" "${BK_RATE[br2]}")
R_R1=$(ratio "${RS_RATE[ours_1_fsync]}" "${RS_RATE[br1]}"); R_R2=$(ratio "${RS_RATE[ours_2_fsync]}" "${RS_RATE[br2]}")
BEST_RS=$(printf '%s\n' "${RS_RATE[ours_1_fsync]}" "${RS_RATE[ours_2_fsync]}" | sort -n | tail -1)
R_DISK=$(ratio "$BEST_RS" "$DISK_RATE"); R_DIRECT=$(ratio "$BEST_RS" "$DD_DIRECT")
MAX_RSS=0
for f in "$R"/tmp/time.ours1 "$R"/tmp/time.ours2 "$R"/tmp/time.rs_* "$R"/tmp/time.walpush "$R"/tmp/time.walfetch; do
  case $f in *rs_br*) continue ;; esac
  k=$(awk '{ print $4 }' "$f"); [ "$k" -gt "$MAX_RSS" ] && MAX_RSS=$k
done
MAX_RSS=$((MAX_RSS / 1024))
M_B1=$(ge "$R_B1" 1.5); M_B2=$(ge "$R_B2" 1.5)
M_R=$(( $(ge "$R_R1" 1) & $(ge "$R_R2" 1) )); M_RD=$(ge "$R_DISK" 0.8); M_RDD=$(ge "$R_DIRECT" 0.8)
M_RSS=$(lt "$MAX_RSS" 64); M_PUSH=$(lt "$PUSH_MEAN" 50)
M_HIT=$( [ "$NHIT" -gt 0 ] && lt "$PITR_HIT_MEAN" 5 || echo 0 )
M_PITR=$(lt "$PITR_FRAC" 50)

# ---- profile where a throughput target is missed ----

PROF_TXT=""
if [ "$PROFILE" = 1 ] && command -v perf >/dev/null && [ $((M_B1 & M_B2 & M_R & M_RD)) = 0 ]; then
  say "a throughput target is missed: perf record -g on backup-push and backup-fetch"
  prof() {   # NAME CMD... (as the pg user, perf as root)
    perf record -q -g -o "$OUT/$1.perf" -- setpriv --reuid="$PG_H_USER" --regid="$(id -g "$PG_H_USER")" \
      --init-groups -- env HOME="$R" TMPDIR="$R/tmp" "$@" >"$OUT/$1.prof.out" 2>"$OUT/$1.prof.err" || return 1
    perf report -q -i "$OUT/$1.perf" --no-children --sort dso,sym --percent-limit 2 --stdio -g none 2>/dev/null \
      | sed -e 's/[[:space:]]\+$//' -e '/^$/d' | head -12 >"$OUT/$1.top"
  }
  (cd "$R" && prof push "$CTL" backup-push --repo "$URL" -d "$CONN" --compression zstd --level 1) &&
    PROF_TXT+=$'\n'"backup-push zstd:1 (self time by DSO and symbol, >= 2 %):"$'\n\n```\n'"$(cat "$OUT/push.top")"$'\n```\n'
  rm -rf "$DEST"
  (cd "$R" && prof fetch "$CTL" backup-fetch --repo "$URL" --concurrency 1 --no-recovery-conf "$DEST" "${BK_NAME[ours1]}") &&
    PROF_TXT+=$'\n'"backup-fetch --concurrency 1 (self time by DSO and symbol, >= 2 %):"$'\n\n```\n'"$(cat "$OUT/fetch.top")"$'\n```\n'
  rm -rf "$DEST"
fi

# ---- write the section ----

SECTION=$OUT/section.md
{
  echo "## Archive engine"
  echo
  echo "Written by tests/bench/run_archive_bench.sh (called by \`make bench\`). One run, one throwaway"
  echo "PostgreSQL 15 (tests/pg/pg_harness.sh: fsync=off on the server, data checksums, autovacuum off),"
  echo "one local repository directory (ours under \`walg/\`, pgBackRest's under \`pgbackrest/\`), same disk."
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); total bench time $(( $(date +%s) - started )) s"
  echo "- machine: $(nproc) cores ($CPU_MODEL), $MEM RAM, $(uname -sr), $FS"
  echo "- data: pgbench scale $SCALE, data directory without pg_wal $DATA_MIB MiB (the MiB/s numerator everywhere)"
  echo "- versions: $("$PG_H_BIN/postgres" --version), $(pgbackrest version), zstd $(zstd -V 2>/dev/null | grep -o 'v[0-9.]*' | head -1)"
  echo "- disk: \`dd if=/dev/zero of=<bench dir>/dd.bin bs=8M count=256 conv=fsync\` (2 GiB through the page"
  echo "  cache, then fsync, as a restore writes) = **$DD_FSYNC MiB/s**, the fsync-bound rate used below; with"
  echo "  \`oflag=direct\` instead (O_DIRECT, no page cache; on this VM the host absorbs it) = $DD_DIRECT MiB/s"
  echo "- load average (1, 5, 15 min) at start $LOAD_START, at end $LOAD_END (the machine is shared: other"
  echo "  sessions' tests may run at the same time; latencies below move with it)"
  echo "- wall, client CPU (user+sys, children included) and peak RSS (largest process) from"
  echo "  \`/usr/bin/time -f '%e %U %S %M'\`; server CPU = the change in user+sys ticks of every process"
  echo "  under the postmaster (walsender, checkpointer, reaped children)"
  echo
  echo "### Base backup"
  echo
  echo "| tool | seconds | MiB/s | client CPU s | server CPU s | peak RSS MiB | stored MiB | ratio |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${BROWS[@]}"
  echo
  echo "Ours vs pgBackRest at equal parallelism: **${R_B1}x** (zstd in the reading thread vs process-max=1),"
  echo "**${R_B2}x** (\`--threads 2\` zstd workers vs process-max=2). pg_basebackup runs with \`-X none\`"
  echo "(no WAL in the backup, like the others) and writes a manifest; backupctl also verifies the"
  echo "server's backup_manifest (CRC32C) and SHA-256s every file. pgBackRest: \`archive-check=n\` (WAL"
  echo "is archived by \`cp\` here), start-fast, repository on the same disk."
  echo
  echo "### Restore"
  echo
  echo "Of the backupctl zstd:1 backup above (\`${BK_NAME[ours1]}\`) and of pgBackRest's process-max=2"
  echo "backup, into an empty directory on the same disk; the repository files are in the page cache."
  echo
  echo "| tool | seconds | MiB/s | CPU s | peak RSS MiB |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${RROWS[@]}"
  echo
  echo "Ours (fsync) vs pgBackRest (which fsyncs too): **${R_R1}x** at 1, **${R_R2}x** at 2. Best fsync'd"
  echo "restore vs the disk's write rate: **${R_DISK}** ($BEST_RS of $DISK_RATE MiB/s)."
  echo
  echo "### WAL"
  echo
  echo "$NWAL real 16 MiB segments (the first ones written by pgbench -i, then by bulk UPDATEs of"
  echo "pgbench_accounts if -i wrote fewer, captured by \`cp\`), one"
  echo "process per segment, sequentially, as PostgreSQL calls archive_command / restore_command; the"
  echo "segments sit in a plain directory, so wal-push has no .ready files to push ahead. Latency per"
  echo "call in ms (wall, fork+exec included); CPU s and peak RSS for all $NWAL calls together."
  echo "wal-fetch writes to \`pg_wal/RECOVERYXLOG\` like recovery does, back to back (no replay in"
  echo "between, the prefetcher's worst case); pgBackRest with archive-async=n (no prefetch)."
  echo
  echo "| command | calls | mean | p50 | p95 | max | CPU s | peak RSS MiB | |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${WROWS[@]}"
  echo
  echo "Ratios (pgBackRest mean / ours): wal-push **$(ratio "$BRPUSH_MEAN" "$PUSH_MEAN")x**, wal-fetch"
  echo "**$(ratio "$BRFETCH_MEAN" "$FETCH_MEAN")x** faster. Stored: ours $(mib "$PUSH_OURS_SIZE") MiB, pgBackRest"
  echo "$(mib "$PUSH_BR_SIZE") MiB for $((NWAL * 16)) MiB of WAL."
  echo
  echo "PITR: backup-fetch of a backup taken before pgbench -i, then PostgreSQL replays the $NWAL"
  echo "segments with \`restore_command\` = backupctl wal-fetch (prefetch 8): recovery took **${PITR_S} s**"
  echo "($PITR_NSEG segments, $PITR_HITS from the prefetch cache); restore_command ran for ${PITR_ALL_S} s of it"
  echo "(**$PITR_FRAC %**; mean $PITR_MEAN ms, p95 $PITR_P95 ms a segment), i.e. replay ran at about"
  echo "$REPLAY_RATE MiB/s of WAL while fetching alone would deliver about $FETCH_RATE MiB/s."
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
  echo "| wal-fetch from the prefetch cache < 5 ms a segment | back to back: mean $HIT_MEAN ms, p95 $HIT_P95 ms ($NHIT hits); in the PITR: mean $PITR_HIT_MEAN ms, p95 $PITR_HIT_P95 ms; engine time $HIT_ENGINE ms; exec of an empty program linked like backupctl ($LIBS_N shared libraries) $STARTUP_MS ms, of /bin/true $TRUE_MS ms | $(met "$M_HIT") |"
  echo "| replay, not fetching, bounds a PITR | fetching $PITR_FRAC % of recovery time | $(met "$M_PITR") |"
  if [ -n "$PROF_TXT" ]; then
    echo
    echo "### Where the time goes (perf record -g, same data)"
    printf '%s\n' "$PROF_TXT"
  fi
  if [ -f tests/bench/archive_notes.md ]; then
    echo
    cat tests/bench/archive_notes.md
  fi
} >"$SECTION"

if [ -f "$DOC" ]; then
  sed '/^## Archive engine/,$d' "$DOC" >"$OUT/doc.md"
  [ -n "$(tail -c1 "$OUT/doc.md")" ] && echo >>"$OUT/doc.md"
  [ -n "$(tail -n1 "$OUT/doc.md")" ] && echo >>"$OUT/doc.md"
else
  printf '# Benchmarks\n\n' >"$OUT/doc.md"
fi
cat "$SECTION" >>"$OUT/doc.md"
mkdir -p "$(dirname "$DOC")"
cp "$OUT/doc.md" "$DOC"
say "wrote the \"## Archive engine\" section of $DOC ($(( $(date +%s) - started )) s)"
