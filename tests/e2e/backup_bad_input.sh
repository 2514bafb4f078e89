#!/usr/bin/env bash
# Bad input for backup-fetch, wal-push and wal-fetch through the real CLI. Each case builds a
# crafted backup in a file:// repository (tests/e2e/make_bad_backups.py), runs backupctl and
# checks: a non-zero exit; the key phrase of the error message; nothing written outside DEST
# (a file beside DEST keeps its bytes and link count, no new entry appears beside DEST);
# the repository unchanged; and no global/pg_control in DEST (it is restored last, so a
# failed restore never looks like a data directory). Cases: truncated and corrupted parts (zstd
# and tar level), missing sentinel, sentinels with wrong types, an unknown compression
# extension, "../" entries, symlinks and hard links leading out of DEST, device entries,
# names that are not WAL file names, a full disk during fetch (a 2 MiB tmpfs; skipped when
# mount is not permitted), and a different WAL pushed under an existing name (stored object's
# sha256 unchanged). A valid crafted backup restores, so the fixtures themselves are sound.
# Env: BUILD (default build). Prints ok/not ok lines and "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CTL=$PWD/$BUILD/bin/backupctl
GEN="python3 $PWD/tests/e2e/make_bad_backups.py"
W=$(mktemp -d "${TEST_TMP:-/tmp}/backup-bad-input.XXXXXX")
MNT=
passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; }
cleanup() { [ -n "$MNT" ] && umount "$MNT" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
export BACKUP_LOG_LEVEL=info

if [ ! -x "$CTL" ] && ! make --no-print-directory -s BUILD="$BUILD" >/dev/null; then
    not_ok "build backupctl"; finish; exit 1
fi
command -v zstd >/dev/null || { not_ok "the zstd CLI is installed (fixtures need it)"; finish; exit 1; }

# beside DIR: what must not change: the bytes of DIR/outside.txt and every entry under DIR
# except DEST and the repository (name, type, size, mode,
# link count; directories without their size, which tmpfs changes with every new entry;
# "out" is the command's output)
beside() {
    find "$1" -mindepth 1 \( -path "$1/dest" -o -path "$1/repo" -o -path "$1/out" \) -prune -o \
        \( -type d -printf '%P d %m\n' \) -o -printf '%P %y %s %m %n\n' | sort
    sha256sum "$1/outside.txt"
}
tree_sums() { (cd "$1" && find . -type f -exec sha256sum {} + | sort); }

# prepare DIR: the file that must survive, and the snapshots taken before the command
prepare() {
    echo "outside DEST: must keep these bytes" >"$1/outside.txt"
    BESIDE_BEFORE=$(beside "$1")
    REPO_BEFORE=$(tree_sums "$1/repo")
}

# expect_failure NAME DIR RC PHRASE: the common assertions after a failed command
expect_failure() {
    local name=$1 dir=$2 rc=$3 phrase=$4
    if [ "$rc" -ne 0 ] && grep -qF -- "$phrase" "$dir/out"; then
        ok "$name: exit $rc, error says '$phrase'"
    else
        not_ok "$name: non-zero exit (got $rc) and error says '$phrase'"
        sed 's/^/# /' "$dir/out"
    fi
    check "$name: nothing written or changed outside DEST" test "$(beside "$dir")" = "$BESIDE_BEFORE"
    check "$name: repository unchanged" test "$(tree_sums "$dir/repo")" = "$REPO_BEFORE"
}

# fetch_case CASE PHRASE [NAME] [DEST_STATE]: crafted backup CASE, backup-fetch NAME (default
# LATEST) must fail with PHRASE. DEST_STATE: "absent" (default; the failure is found before
# DEST is made) or "partial" (found while extracting: DEST exists, without global/pg_control)
fetch_case() {
    local case=$1 phrase=$2 name=${3:-LATEST} dest_state=${4:-absent} dir rc
    dir="$W/$case-$(printf '%s' "$name" | tr -c 'A-Za-z0-9_' '_')"
    mkdir -p "$dir"
    $GEN "$dir/repo" "$case" || { not_ok "$case: fixture generated"; return; }
    prepare "$dir"
    "$CTL" backup-fetch --repo "file://$dir/repo" "$dir/dest" "$name" >"$dir/out" 2>&1
    rc=$?
    expect_failure "$case ($name)" "$dir" "$rc" "$phrase"
    if [ "$dest_state" = absent ]; then
        check "$case ($name): DEST not created" test ! -e "$dir/dest"
    else
        check "$case ($name): DEST has no global/pg_control" test ! -e "$dir/dest/global/pg_control"
    fi
}

# ---- control: the valid crafted backup restores ----
dir="$W/good"
mkdir -p "$dir"
$GEN "$dir/repo" good
prepare "$dir"
"$CTL" backup-fetch --repo "file://$dir/repo" "$dir/dest" LATEST >"$dir/out" 2>&1
check "good: the valid crafted backup restores (exit $?)" grep -q "restored base_000000010000000000000002" "$dir/out"
check "good: PG_VERSION, base/1/1259, global/pg_control and recovery.signal restored" \
    test -f "$dir/dest/PG_VERSION" -a -f "$dir/dest/base/1/1259" -a -f "$dir/dest/global/pg_control" \
    -a -f "$dir/dest/recovery.signal"
check "good: nothing written outside DEST" test "$(beside "$dir")" = "$BESIDE_BEFORE"
"$CTL" backup-fetch --repo "file://$dir/repo" "$dir/dest" LATEST >"$dir/out" 2>&1
expect_failure "good, fetched again into the same DEST" "$dir" $? "is not empty"

# ---- parts ----
fetch_case truncated_zstd "part_001.tar.zst: truncated zstd stream" LATEST partial
fetch_case truncated_tar "truncated tar: stream ends inside the data of \"base/1/1259\"" LATEST partial
fetch_case corrupt_zstd "part_001.tar.zst: corrupt zstd stream" LATEST partial
fetch_case corrupt_tar "part_001.tar.zst: bad tar header checksum at offset 1024" LATEST partial
fetch_case unknown_ext "unsupported compression extension \"zzz\""

# ---- sentinel ----
fetch_case no_sentinel "no backups found"
fetch_case no_sentinel "backup \"base_000000010000000000000002\" does not exist" base_000000010000000000000002
fetch_case good "is not a backup name" "base_../../etc"
fetch_case sentinel_lsn_string "sentinel field \"LSN\" must be a number"
fetch_case sentinel_finish_negative "sentinel field \"FinishLSN\" must be a non-negative integer"
fetch_case sentinel_spec_string "sentinel field \"Spec\" must be an object"
fetch_case sentinel_version_float "sentinel field \"Version\" must be an integer"
fetch_case sentinel_permanent_string "sentinel field \"IsPermanent\" must be"
fetch_case sentinel_not_object "sentinel must be a JSON object"

# ---- tar entries ----
fetch_case dotdot "tar entry \"../escaped\" escapes the target directory" LATEST partial
fetch_case dotdot_nested "tar entry \"base/../../escaped\" escapes the target directory" LATEST partial
fetch_case symlink "tar entry \"escape\" is a symbolic link; symbolic links are not restored" LATEST partial
fetch_case symlink_abs "tar entry \"etc\" is a symbolic link; symbolic links are not restored" LATEST partial
fetch_case hardlink "tar entry \"stolen\" is a hard link to \"../outside.txt\" outside the target directory" LATEST partial
fetch_case chardev "tar entry \"dev_null\" is a character device; device files and fifos are not restored" LATEST partial
fetch_case blockdev "tar entry \"dev_sda\" is a block device; device files and fifos are not restored" LATEST partial
check "no device node, link or escaped file anywhere under the work dir" \
    test -z "$(find "$W" \( -type b -o -type c -o -type l -o -name escaped -o -name stolen \) -print)"

# ---- full disk during fetch ----
dir="$W/full"
mkdir -p "$dir/mnt"
if [ "$(id -u)" -ne 0 ]; then
    ok "full disk: # SKIP not root, cannot mount a small tmpfs"
elif ! mount -t tmpfs -o size=2m tmpfs "$dir/mnt" 2>"$dir/mount.err"; then
    ok "full disk: # SKIP mount -t tmpfs is not permitted here ($(head -n 1 "$dir/mount.err"))"
else
    MNT="$dir/mnt"
    $GEN "$dir/repo" big
    echo "outside DEST on the small disk" >"$MNT/outside.txt"
    before=$(beside "$MNT")
    repo_before=$(tree_sums "$dir/repo")
    "$CTL" backup-fetch --repo "file://$dir/repo" "$MNT/dest" LATEST >"$dir/out" 2>&1
    rc=$?
    if [ "$rc" -ne 0 ] && grep -q "error: .*base/1/16384.*No space left on device" "$dir/out"; then
        ok "full disk: exit $rc, error names base/1/16384 and says 'No space left on device'"
    else
        not_ok "full disk: non-zero exit (got $rc) and 'No space left on device' naming the file"
        sed 's/^/# /' "$dir/out"
    fi
    check "full disk: the partly written file was removed" test ! -e "$MNT/dest/base/1/16384"
    check "full disk: DEST has no global/pg_control" test ! -e "$MNT/dest/global/pg_control"
    check "full disk: nothing changed beside DEST" \
        test "$(beside "$MNT")" = "$before"
    check "full disk: repository unchanged" test "$(tree_sums "$dir/repo")" = "$repo_before"
    umount "$MNT" && MNT=
fi

# ---- WAL names ----
dir="$W/walnames"
mkdir -p "$dir/repo" "$dir/pg_wal"
head -c 16777216 /dev/urandom >"$dir/seg"
for bad in notawal 00000001000000000000000G 0000000100000000000000030 00000001000000000000003 \
           000000010000000000000003.zst; do
    cp "$dir/seg" "$dir/pg_wal/$bad"
    prepare "$dir"
    "$CTL" wal-push --repo "file://$dir/repo" "$dir/pg_wal/$bad" >"$dir/out" 2>&1
    expect_failure "wal-push of \"$bad\"" "$dir" $? "\"$bad\" is not a WAL file name"
    rm -f "$dir/pg_wal/$bad"
done
check "wal-push of bad names stored nothing" test -z "$(find "$dir/repo" -type f)"
for bad in ../../escaped 000000010000000000000003/../x notawal 00000001000000000000000g; do
    prepare "$dir"
    "$CTL" wal-fetch --repo "file://$dir/repo" "$bad" "$dir/pg_wal/RECOVERYXLOG" >"$dir/out" 2>&1
    expect_failure "wal-fetch of \"$bad\"" "$dir" $? "is not a WAL file name"
done
check "wal-fetch of bad names wrote nothing into pg_wal" test -z "$(ls -A "$dir/pg_wal")"

# ---- a different WAL under an existing name ----
dir="$W/walconflict"
seg=000000010000000000000003
mkdir -p "$dir/repo" "$dir/pg_wal" "$dir/a" "$dir/b"
$GEN --wal "$dir/a/$seg" && $GEN --wal "$dir/b/$seg"   # same header, different bytes after it
cp "$dir/a/$seg" "$dir/pg_wal/$seg"
"$CTL" wal-push --repo "file://$dir/repo" "$dir/pg_wal/$seg" >"$dir/out" 2>&1
check "wal-push of $seg (first time) succeeds" test $? -eq 0
stored=$(find "$dir/repo/wal_005" -type f -name "$seg*")
sum_before=$(sha256sum <"$stored")
cp "$dir/b/$seg" "$dir/pg_wal/$seg"
prepare "$dir"
"$CTL" wal-push --repo "file://$dir/repo" "$dir/pg_wal/$seg" >"$dir/out" 2>&1
expect_failure "wal-push of a different $seg" "$dir" $? "already exists with different content; refusing to overwrite"
check "wal-push conflict: stored object's sha256 unchanged" test "$(sha256sum <"$stored")" = "$sum_before"
check "wal-push conflict: the local WAL file is untouched" cmp -s "$dir/b/$seg" "$dir/pg_wal/$seg"
"$CTL" wal-fetch --repo "file://$dir/repo" "$seg" "$dir/fetched" >/dev/null 2>&1 && cmp -s "$dir/a/$seg" "$dir/fetched"
check "wal-push conflict: wal-fetch still returns the first WAL" test $? -eq 0
cp "$dir/a/$seg" "$dir/pg_wal/$seg"
"$CTL" wal-push --repo "file://$dir/repo" "$dir/pg_wal/$seg" >"$dir/out" 2>&1 && grep -q "identical content" "$dir/out"
check "wal-push of the identical WAL again succeeds (idempotent)" test $? -eq 0

# ---- the default restore_command with a space, a quote and a '%' in both paths ----
# backup-fetch writes restore_command from its own path and --repo; run it the way PostgreSQL
# does (postgresql.conf unquoting, then %f %p %% substitution, then sh -c) and fetch a WAL
dir="$W/quoting"
odd="$dir/it's 100% odd"
mkdir -p "$odd/bin" "$odd/repo" "$dir/pg_wal"
cp "$CTL" "$odd/bin/backupctl"
$GEN "$odd/repo" good && $GEN --wal "$dir/pg_wal/$seg"
"$odd/bin/backupctl" wal-push --repo "file://$odd/repo" "$dir/pg_wal/$seg" >"$dir/out" 2>&1 &&
    "$odd/bin/backupctl" backup-fetch --repo "file://$odd/repo" "$dir/dest" LATEST >>"$dir/out" 2>&1
check "quoting: backup-fetch from a repository path with a space, a quote and a '%'" test $? -eq 0
cmd=$(python3 - "$dir/dest/postgresql.auto.conf" "$seg" "$dir/fetched" <<'PY'
import re, sys
conf, name, dest = sys.argv[1:]
value = [l for l in open(conf) if l.startswith("restore_command = ")][-1].split(" = ", 1)[1].strip()
value = value[1:-1].replace("''", "'")                      # postgresql.conf string
print(re.sub(r"%([fp%])", lambda m: {"f": name, "p": dest, "%": "%"}[m.group(1)], value))
PY
)
sh -c "$cmd" >>"$dir/out" 2>&1 && cmp -s "$dir/pg_wal/$seg" "$dir/fetched"
check "quoting: the written restore_command, run as PostgreSQL runs it, fetches the WAL" test $? -eq 0

finish
