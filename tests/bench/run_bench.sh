#!/usr/bin/env bash
# make bench: storage throughput and peak RSS for a 1 GiB stream, up and down, through the
# local driver, s3rver and azurite, side by side with awscli's `s3 cp` in the same run.
# Writes docs/benchmarks.md (machine and date included). Ratios matter more than absolute
# numbers: these machines are shared and noisy.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CTL=$PWD/$BUILD/bin/backupctl
SIZE_MIB=${BENCH_SIZE_MIB:-1024}
export TEST_TMP=$(mktemp -d /tmp/backupd-bench.XXXXXX)
trap 'bash tests/servers/stop_servers.sh 2>/dev/null; rm -rf "$TEST_TMP"' EXIT
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null 2>&1; }
SRC=$TEST_TMP/src.bin
echo "bench: generating $SIZE_MIB MiB of incompressible data"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$SRC"
SRC_SHA=$(sha256sum "$SRC" | cut -d' ' -f1)
ROWS=()

# measure NAME DIRECTION CMD...: runs CMD under /usr/bin/time, records MiB/s and peak RSS
measure() {
  local name=$1 dir=$2; shift 2
  local out=$TEST_TMP/time.out
  if ! /usr/bin/time -f "%e %M" -o "$out" "$@" >/dev/null 2>"$TEST_TMP/err.log"; then
    echo "bench: $name $dir FAILED"; tail -3 "$TEST_TMP/err.log"; ROWS+=("| $name | $dir | failed | | |"); return 1
  fi
  read -r secs rss_kib < "$out"
  local rate; rate=$(awk -v s="$secs" -v m="$SIZE_MIB" 'BEGIN{ if (s<=0) s=0.001; printf "%.0f", m/s }')
  local rss_mib=$((rss_kib / 1024))
  echo "bench: $name $dir: ${secs}s, $rate MiB/s, peak RSS $rss_mib MiB"
  ROWS+=("| $name | $dir | $secs | $rate | $rss_mib |")
  eval "RATE_${name//[^a-zA-Z0-9]/_}_$dir=$rate"
}

verify() {
  local got; got=$(sha256sum "$1" | cut -d' ' -f1)
  [ "$got" = "$SRC_SHA" ] || { echo "bench: $1 differs from the source"; exit 1; }
  rm -f "$1"
}

PART=${BENCH_PART_SIZE:-8MiB}; CONC=${BENCH_CONCURRENCY:-4}
export BACKUP_PART_SIZE=$PART BACKUP_UPLOAD_CONCURRENCY=$CONC

measure "backupctl file" up "$CTL" storage put "file://$TEST_TMP/repo/big.bin" "$SRC"
measure "backupctl file" down "$CTL" storage get "file://$TEST_TMP/repo/big.bin" "$TEST_TMP/down.bin" && verify "$TEST_TMP/down.bin"

if bash tests/servers/start_s3.sh >"$TEST_TMP/s3.log" 2>&1; then
  . "$TEST_TMP/s3.env"
  # talk to s3rver directly (the signature-checking proxy is a test fixture, not a bench subject)
  [ -n "${S3RVER_DIRECT_ENDPOINT:-}" ] && export AWS_ENDPOINT=$S3RVER_DIRECT_ENDPOINT
  measure "backupctl s3rver" up "$CTL" storage put "s3://backups/bench/big.bin" "$SRC"
  measure "backupctl s3rver" down "$CTL" storage get "s3://backups/bench/big.bin" "$TEST_TMP/down.bin" && verify "$TEST_TMP/down.bin"
  if command -v aws >/dev/null; then
    measure "awscli s3rver" up aws --endpoint-url "$AWS_ENDPOINT" s3 cp --only-show-errors "$SRC" s3://backups/bench/aws.bin
    measure "awscli s3rver" down aws --endpoint-url "$AWS_ENDPOINT" s3 cp --only-show-errors s3://backups/bench/aws.bin "$TEST_TMP/down.bin" && verify "$TEST_TMP/down.bin"
  fi
else
  echo "bench: s3rver did not start"; cat "$TEST_TMP/s3.log"
fi
if bash tests/servers/start_azure.sh >"$TEST_TMP/az.log" 2>&1; then
  ( . "$TEST_TMP/azure.env"
    measure "backupctl azurite" up "$CTL" storage put "azure://backups/bench/big.bin" "$SRC"
    measure "backupctl azurite" down "$CTL" storage get "azure://backups/bench/big.bin" "$TEST_TMP/down.bin" && verify "$TEST_TMP/down.bin"
    printf '%s\n' "${ROWS[@]}" > "$TEST_TMP/rows.az" )
  [ -f "$TEST_TMP/rows.az" ] && mapfile -t ROWS < "$TEST_TMP/rows.az"
else
  echo "bench: azurite did not start"; cat "$TEST_TMP/az.log"
fi

CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
MEM=$(free -g | awk '/Mem:/ {print $2" GiB"}')
{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` (tests/bench/run_bench.sh). Ratios matter more than absolute numbers:"
  echo "the machines are shared and noisy, and s3rver/azurite are single-threaded Node servers writing to"
  echo "local disk, so they, not the client, bound the network rows."
  echo
  echo "## Storage: one ${SIZE_MIB} MiB incompressible stream"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- machine: $(nproc) cores ($CPU), $MEM RAM, $(uname -sr)"
  echo "- settings: part size $PART, $CONC parts in flight (peak RSS should stay near part size x (parallelism + 1) plus the 1 MiB read buffer)"
  echo
  echo "| client | direction | seconds | MiB/s | peak RSS MiB |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "Every download was checked byte for byte (SHA-256) against the source."
} > docs/benchmarks.md.storage
# keep other sections (archive engine) that later runs append
if [ -f docs/benchmarks.md ] && grep -q '^## Archive engine' docs/benchmarks.md; then
  sed -n '/^## Archive engine/,$p' docs/benchmarks.md >> docs/benchmarks.md.storage
fi
mv docs/benchmarks.md.storage docs/benchmarks.md
echo "bench: wrote docs/benchmarks.md"
TEST_TMP=/tmp BUILD="$BUILD" bash tests/bench/run_archive_bench.sh   # "## Archive engine": backup/restore/WAL vs pg_basebackup and pgBackRest
