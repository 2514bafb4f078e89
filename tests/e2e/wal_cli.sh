#!/usr/bin/env bash
# `backupctl wal-push` / `wal-fetch` as PostgreSQL calls them, without a server: exit statuses
# (0, 2 usage, 74 not archived, 1 failure, 200 = stop archive recovery), objects checked with
# tools that are not ours (zstd, lz4, lzop), the WAL-E .lzo fixture, and an unreachable S3
# endpoint that must fail within BACKUP_WAL_FETCH_DEADLINE_MS. Prints `ok - ...` lines and
# `N passed, M failed`. Env: BUILD (default build), TEST_TMP.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
BIN="$PWD/$BUILD/bin/backupctl"
FIXTURE=/work/shared/fixtures/walg/wale_000000010000000000000024.decrypted.lzo

passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; }

if ! make --no-print-directory -s BUILD="$BUILD" "$BUILD/bin/backupctl" >/dev/null; then
    not_ok "build backupctl"; finish; exit 1
fi
work=$(mktemp -d "${TEST_TMP:-/tmp}/wal_cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
mkdir -p data/pg_wal/archive_status repo out
unset WALG_S3_PREFIX WALE_S3_PREFIX WALG_AZ_PREFIX WALG_GS_PREFIX WALE_GS_PREFIX
export WALG_FILE_PREFIX="$work/repo"

# PostgreSQL 15 segment: XLOG_PAGE_MAGIC 0xD110, long header on page 0, page headers every 8 KiB
mkseg() {
    python3 - "$1" "$2" "${3:-0}" <<'EOF'
import struct, sys, random
name, path, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
seg = 16 * 1024 * 1024
tli, hi, lo = int(name[:8], 16), int(name[8:16], 16), int(name[16:], 16)
start = (hi << 32) + lo * seg
r = random.Random(seed)
words = [b"INSERT ", b"pgbench_accounts ", b"abalance ", b"filler "]
body = b"".join(r.choice(words) for _ in range(4000))
out = bytearray()
for p in range(seg // 8192):
    h = struct.pack("<HHIQI4xQII", 0xD110, 2, tli, start, 0, 1234567, seg, 8192) if p == 0 else \
        struct.pack("<HHIQI4x", 0xD110, 0, tli, start + p * 8192, 0)
    off = (p * 37) % 1000
    out += h + body[off:off + 8192 - len(h)]
open(path, "wb").write(out)
EOF
}
run() { "$BIN" "$@" >"$work/out/stdout" 2>"$work/out/stderr"; echo $?; }
seg=000000010000000000000003
mkseg $seg data/pg_wal/$seg 1

# ---- wal-push ----
check "wal-push exits 0" test "$(run wal-push data/pg_wal/$seg)" -eq 0
check "object is a zstd frame that zstd -d turns into the segment" \
    bash -c "zstd -qdc repo/wal_005/$seg.zst | cmp -s - data/pg_wal/$seg"
check "one info line with size and ms" \
    grep -qE "^backupctl: info: pushed $seg to wal_005/$seg.zst \(16777216 bytes, [0-9]+ stored, [0-9]+ ms\)$" out/stderr
check "re-push of identical content exits 0" test "$(run wal-push data/pg_wal/$seg)" -eq 0
check "... and says it was already archived" grep -q "already archived as wal_005/$seg.zst with identical content" out/stderr
cp repo/wal_005/$seg.zst out/before.zst
printf 'X' | dd of=data/pg_wal/$seg bs=1 seek=9000 conv=notrunc status=none
check "push of different content exits 1" test "$(run wal-push data/pg_wal/$seg)" -eq 1
check "... with the refusal message" grep -q "wal_005/$seg already exists with different content; refusing to overwrite" out/stderr
check "... and the stored object is unchanged" cmp -s out/before.zst repo/wal_005/$seg.zst
touch data/pg_wal/RECOVERYXLOG
check "push of a non-WAL name exits 2" test "$(run wal-push data/pg_wal/RECOVERYXLOG)" -eq 2
check "... naming the file" grep -q '"RECOVERYXLOG" is not a WAL file name' out/stderr
rm -f data/pg_wal/RECOVERYXLOG
mkseg 000000010000000000000004 data/pg_wal/000000010000000000000004 2
check "WALG_COMPRESSION_METHOD=lz4 writes an .lz4 frame" bash -c \
    "WALG_COMPRESSION_METHOD=lz4 '$BIN' wal-push data/pg_wal/000000010000000000000004 2>/dev/null &&
     lz4 -qdc repo/wal_005/000000010000000000000004.lz4 | cmp -s - data/pg_wal/000000010000000000000004"
check "an unknown WALG_COMPRESSION_METHOD exits 2" \
    test "$(WALG_COMPRESSION_METHOD=gzip run wal-push data/pg_wal/000000010000000000000004)" -eq 2
printf '1\t0/3000000\tno recovery target specified\n' >data/pg_wal/00000002.history
check "a .history file is pushed" test "$(run wal-push data/pg_wal/00000002.history)" -eq 0

# ---- wal-fetch ----
check "wal-fetch of the .lz4 segment exits 0" test "$(run wal-fetch --no-prefetch 000000010000000000000004 out/seg4)" -eq 0
check "... byte-exact" cmp -s out/seg4 data/pg_wal/000000010000000000000004
check "... one info line with size and ms" \
    grep -qE "^backupctl: info: fetched 000000010000000000000004 from wal_005/000000010000000000000004.lz4 \(16777216 bytes, [0-9]+ stored, [0-9]+ ms\)$" out/stderr
check "wal-fetch of the .history file" bash -c \
    "'$BIN' wal-fetch 00000002.history out/hist 2>/dev/null && cmp -s out/hist data/pg_wal/00000002.history"
check "a missing segment exits 74" test "$(run wal-fetch 0000000100000000000000FF out/none)" -eq 74
check "... and leaves no file" test ! -e out/none
check "a destination in a missing directory exits 1, not 74 (not archived)" \
    test "$(run wal-fetch --no-prefetch 000000010000000000000004 out/nodir/seg)" -eq 1
check "usage error exits 2" test "$(run wal-fetch 000000010000000000000004)" -eq 2
mkdir -p repo/wal_005
cp "$FIXTURE" repo/wal_005/000000010000000000000024.lzo
check "a WAL-E .lzo segment is fetched (16777216 bytes, as lzop -d gives)" bash -c \
    "'$BIN' wal-fetch --no-prefetch 000000010000000000000024 out/wale 2>/dev/null &&
     test \$(stat -c %s out/wale) -eq 16777216 && lzop -dc '$FIXTURE' | cmp -s - out/wale"
zstd -q -c data/pg_wal/000000010000000000000004 | head -c 100000 >repo/wal_005/000000010000000000000005.zst
check "a truncated object exits 1 and leaves no file" bash -c \
    "'$BIN' wal-fetch --no-prefetch 000000010000000000000005 out/trunc 2>/dev/null; test \$? -eq 1 && test ! -e out/trunc"

# ---- exit status when the storage is unreachable ----
s3env=(env -u WALG_FILE_PREFIX WALG_S3_PREFIX=s3://bucket/cluster AWS_ENDPOINT=http://127.0.0.1:1
       AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=not-a-secret BACKUP_HTTP_RETRIES=100
       BACKUP_WAL_FETCH_DEADLINE_MS=1500)
fetch_status() { # DIR [VAR=VALUE...]: status of an unreachable fetch into DIR/pg_wal/RECOVERYXLOG
    local dir=$1; shift
    mkdir -p "$dir/pg_wal"
    (cd "$dir" && "${s3env[@]}" "$@" "$BIN" wal-fetch --no-prefetch 000000010000000000000003 pg_wal/RECOVERYXLOG \
        >/dev/null 2>"$work/out/unreach.err"; echo $?)
}
start=$(date +%s%N)
st_out=$(fetch_status "$work/out")
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "unreachable storage outside a cluster exits 1 (got $st_out)" test "$st_out" -eq 1
check "... within the deadline + 2 s (${elapsed_ms} ms for 1500 ms)" test "$elapsed_ms" -lt 3500
check "... naming the storage and the deadline" grep -q 'from s3://bucket/cluster after [0-9]* ms (deadline 1500 ms)' out/unreach.err
touch data/recovery.signal
check "during archive recovery it exits 200 so PostgreSQL stops" test "$(fetch_status data)" -eq 200
check "... and says why" grep -q 'exiting with status 200 so that PostgreSQL stops recovery' out/unreach.err
check "BACKUP_WAL_FETCH_ON_ERROR=continue keeps exit 1 there" test "$(fetch_status data BACKUP_WAL_FETCH_ON_ERROR=continue)" -eq 1
check "a missing segment is still 74 during recovery" test "$(cd data && run wal-fetch --no-prefetch 0000000100000000000000FE pg_wal/RECOVERYXLOG)" -eq 74
touch data/standby.signal
check "a standby exits 1 (it retries and streams)" test "$(fetch_status data)" -eq 1
check "BACKUP_WAL_FETCH_ON_ERROR=stop exits 200 anywhere" test "$(fetch_status "$work/out" BACKUP_WAL_FETCH_ON_ERROR=stop)" -eq 200
rm -f data/standby.signal
check "a missing storage configuration during recovery exits 200" \
    test "$(cd data && env -u WALG_FILE_PREFIX "$BIN" wal-fetch 000000010000000000000003 pg_wal/RECOVERYXLOG >/dev/null 2>&1; echo $?)" -eq 200
check "no fetch left a file or temp file in pg_wal" \
    bash -c "! ls -A data/pg_wal | grep -qE 'RECOVERYXLOG|backupd-tmp'"
finish
