#!/usr/bin/env bash
# Cross-checks the S3 driver against two independent clients, awscli and s3cmd, through
# s3rver behind the SigV4-verifying proxy (tests/servers/start_s3.sh, own TEST_TMP and ports
# CROSS_S3_PORT/+1, default 4588/4589): objects we write (single, multipart, binary, a name
# with spaces, '+', '=' and unicode) read back byte-identical with them and vice versa, and a
# wrong secret is refused with SignatureDoesNotMatch. Needs build/bin/backupctl (make).
# Prints "ok - ..." / "not ok - ..." lines and "N passed, M failed"; exits non-zero on failure.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
CTL=${BACKUPCTL:-$BUILD/bin/backupctl}
port=${CROSS_S3_PORT:-4588}
passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }
# same_bytes WHAT EXPECTED GOT CMD...: runs CMD (which writes GOT), then compares GOT with EXPECTED
same_bytes() {
  local what=$1 expected=$2 got=$3; shift 3
  if ! "$@"; then not_ok "$what (the client failed)"; return; fi
  check "$what byte-identical" cmp -s "$expected" "$got"
}

for tool in aws s3cmd node; do
  command -v "$tool" >/dev/null || { not_ok "$tool is installed (make deps)"; finish; }
done
[ -x "$CTL" ] || { not_ok "$CTL exists (run make)"; finish; }

export TEST_TMP
TEST_TMP=$(mktemp -d /tmp/crosscheck-s3.XXXXXX)
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() { bash tests/servers/stop_servers.sh >/dev/null 2>&1; rm -rf "$TEST_TMP"; }
trap cleanup EXIT
if ! S3RVER_PORT=$port S3_PROXY_PORT=$((port + 1)) bash tests/servers/start_s3.sh >"$TEST_TMP/start.log" 2>&1; then
  cat "$TEST_TMP/start.log"; not_ok "s3rver and the SigV4 proxy start"; finish
fi
# shellcheck disable=SC1091
. "$TEST_TMP/s3.env"
export BACKUP_PART_SIZE=1MiB        # our multipart threshold: 3.5 MB -> 4 parts
export AWS_CONFIG_FILE=$TEST_TMP/aws-config AWS_SHARED_CREDENTIALS_FILE=$TEST_TMP/aws-credentials
: >"$AWS_CONFIG_FILE"; : >"$AWS_SHARED_CREDENTIALS_FILE"
AWS=(aws --endpoint-url "$AWS_ENDPOINT" --region us-east-1)
cat >"$TEST_TMP/s3cfg" <<CFG
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = 127.0.0.1:$((port + 1))
host_bucket = 127.0.0.1:$((port + 1))
use_https = False
signature_v2 = False
bucket_location = us-east-1
multipart_chunk_size_mb = 5
CFG
S3CMD=(s3cmd -c "$TEST_TMP/s3cfg" --no-progress --quiet)

d=$TEST_TMP/files
mkdir -p "$d"
printf 'hello from backupd\n' >"$d/small.txt"
head -c 3670016 /dev/urandom >"$d/ours-multi.bin"     # 3.5 MiB: 4 parts of 1 MiB
head -c 200000 /dev/urandom >"$d/binary.bin"
head -c 9437184 /dev/urandom >"$d/aws-multi.bin"      # 9 MiB: awscli goes multipart above 8 MiB
head -c 11534336 /dev/urandom >"$d/s3cmd-multi.bin"   # 11 MiB: s3cmd parts of 5 MiB
odd='dir with space/a b+c=d é€ü.bin'
base=s3://backups/cross

# ---- we write, they read ----
check "backupctl put small text" "$CTL" storage put "$base/ours/small.txt" "$d/small.txt"
check "backupctl put 3.5 MiB as multipart" "$CTL" storage put "$base/ours/multi.bin" "$d/ours-multi.bin"
check "backupctl put binary under an odd name" "$CTL" storage put "$base/ours/$odd" "$d/binary.bin"
mp=$(curl -fsS "$S3_PROXY_URL/__proxy/stats" | node -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>{const l=JSON.parse(s).log;console.log(l.filter(e=>e.method==="PUT"&&/partNumber=/.test(e.query)&&e.contentMd5&&/ours\/multi\.bin$/.test(e.path)).length)})')
check "our multipart upload sent 4 parts, each with Content-MD5 (proxy log: $mp)" test "$mp" = 4

same_bytes "awscli reads our small text" "$d/small.txt" "$TEST_TMP/a1" "${AWS[@]}" s3 cp --only-show-errors "$base/ours/small.txt" "$TEST_TMP/a1"
same_bytes "awscli reads our multipart object" "$d/ours-multi.bin" "$TEST_TMP/a2" "${AWS[@]}" s3 cp --only-show-errors "$base/ours/multi.bin" "$TEST_TMP/a2"
same_bytes "awscli reads our odd-named binary" "$d/binary.bin" "$TEST_TMP/a3" "${AWS[@]}" s3 cp --only-show-errors "$base/ours/$odd" "$TEST_TMP/a3"
same_bytes "s3cmd reads our multipart object" "$d/ours-multi.bin" "$TEST_TMP/s1" "${S3CMD[@]}" get --force "$base/ours/multi.bin" "$TEST_TMP/s1"
same_bytes "s3cmd reads our odd-named binary" "$d/binary.bin" "$TEST_TMP/s2" "${S3CMD[@]}" get --force "$base/ours/$odd" "$TEST_TMP/s2"
listed=$("${AWS[@]}" s3api list-objects-v2 --bucket backups --prefix cross/ours/ --query 'Contents[].Key' --output text 2>&1)
check "awscli lists our odd name exactly" grep -qF "cross/ours/$odd" <<<"$listed"

# ---- they write, we read ----
check "awscli put 9 MiB (multipart)" "${AWS[@]}" s3 cp --only-show-errors "$d/aws-multi.bin" "$base/theirs/aws-multi.bin"
check "awscli put an odd-named binary" "${AWS[@]}" s3 cp --only-show-errors "$d/binary.bin" "$base/theirs/aws/$odd"
check "s3cmd put 11 MiB (multipart)" "${S3CMD[@]}" put "$d/s3cmd-multi.bin" "$base/theirs/s3cmd-multi.bin"
check "s3cmd put an odd-named text" "${S3CMD[@]}" put "$d/small.txt" "$base/theirs/s3cmd/$odd"
same_bytes "we read awscli's multipart object" "$d/aws-multi.bin" "$TEST_TMP/b1" "$CTL" storage get "$base/theirs/aws-multi.bin" "$TEST_TMP/b1"
same_bytes "we read awscli's odd-named binary" "$d/binary.bin" "$TEST_TMP/b2" "$CTL" storage get "$base/theirs/aws/$odd" "$TEST_TMP/b2"
same_bytes "we read s3cmd's multipart object" "$d/s3cmd-multi.bin" "$TEST_TMP/b3" "$CTL" storage get "$base/theirs/s3cmd-multi.bin" "$TEST_TMP/b3"
same_bytes "we read s3cmd's odd-named text" "$d/small.txt" "$TEST_TMP/b4" "$CTL" storage get "$base/theirs/s3cmd/$odd" "$TEST_TMP/b4"
ours_ls=$("$CTL" storage ls "$base/theirs/aws/" 2>&1)
check "we list awscli's odd name exactly" grep -qF "$odd" <<<"$ours_ls"

# ---- a wrong secret is refused, and not printed ----
out=$(AWS_SECRET_ACCESS_KEY=wrong-secret-crosscheck "$CTL" storage put "$base/ours/denied.txt" "$d/small.txt" 2>&1); rc=$?
check "backupctl with a wrong secret exits non-zero (rc=$rc)" test "$rc" -ne 0
check "backupctl names SignatureDoesNotMatch" grep -q SignatureDoesNotMatch <<<"$out"
# shellcheck disable=SC2016  # $1 is expanded by the inner bash
check "backupctl does not print the secret" bash -c '! grep -q wrong-secret-crosscheck <<<"$1"' _ "$out"
out=$(AWS_SECRET_ACCESS_KEY=wrong-secret-crosscheck "${AWS[@]}" s3 ls "$base/" 2>&1); rc=$?
# shellcheck disable=SC2016  # $1/$2 are expanded by the inner bash
check "awscli with a wrong secret is refused with SignatureDoesNotMatch (the proxy checks)" \
  bash -c '[ "$1" -ne 0 ] && grep -q SignatureDoesNotMatch <<<"$2"' _ "$rc" "$out"
out=$("$CTL" storage get "$base/ours/denied.txt" "$TEST_TMP/none" 2>&1); rc=$?
check "the refused object was never stored (get exits 74, not found)" test "$rc" -eq 74

finish
