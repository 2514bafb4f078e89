#!/usr/bin/env bash
# Cross-checks our Azure Blob driver against Microsoft's @azure/storage-blob SDK on azurite:
# objects we write (single Put Blob, multi-block Put Block List, empty, binary, names with
# spaces, '+' and non-ASCII) are read byte-identical by the SDK, and blobs the SDK writes are
# read identical by us. Also: SAS auth, wrong key and garbled SAS rejected by azurite with the
# server's error code, idempotent delete, and no key/SAS signature in -vv trace output.
# Uses `backupctl storage put|get|ls|rm|stat|check` ($BACKUPCTL, default build/bin/backupctl)
# and tests/servers/azblob-client.js. Prints ok/not ok lines and "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
CTL=${BACKUPCTL:-$PWD/${BUILD:-build}/bin/backupctl}
SDK="node $PWD/tests/servers/azblob-client.js"
export TEST_TMP=${TEST_TMP:-$(mktemp -d /tmp/crosscheck-azure.XXXXXX)}
mkdir -p "$TEST_TMP"
trap 'bash tests/servers/stop_servers.sh 2>/dev/null' EXIT
pass=0; fail=0
ok() { echo "ok - $*"; pass=$((pass+1)); }
not_ok() { echo "not ok - $*"; fail=$((fail+1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

if ! bash tests/servers/start_azure.sh >"$TEST_TMP/azure-start.log" 2>&1; then
  cat "$TEST_TMP/azure-start.log"; not_ok "azurite started"; echo "$pass passed, $((fail)) failed"; exit 1
fi
. "$TEST_TMP/azure.env"
[ -x "$CTL" ] || { not_ok "backupctl found at $CTL"; echo "$pass passed, $fail failed"; exit 1; }

run=xc-$$-$RANDOM
base="azure://backups/$run"
D=$TEST_TMP/files
mkdir -p "$D"
export BACKUP_PART_SIZE=256KiB          # 262144-byte blocks: multi-block paths on small files
part=262144

head -c 1000 /dev/urandom >"$D/small.bin"
head -c $((4 * part + 12345)) /dev/urandom >"$D/big.bin"     # 5 blocks
head -c $((2 * part + 1)) /dev/urandom >"$D/odd.bin"        # 3 blocks, 1-byte tail
: >"$D/empty.bin"
head -c 350000 /dev/urandom >"$D/sdk-multi.bin"
head -c 4321 /dev/urandom >"$D/sdk-single.bin"
odd_name='sp ace+plus ünï€.bin'

# ---- ours -> SDK ----
"$CTL" storage put "$base/ours/small.bin" "$D/small.bin" 2>"$D/err" &&
  $SDK get backups "$run/ours/small.bin" "$D/small.sdk" && cmp -s "$D/small.bin" "$D/small.sdk"
check "single Put Blob (1000 bytes) read identical by the SDK" test $? -eq 0

"$CTL" storage put "$base/ours/big.bin" "$D/big.bin" 2>"$D/err" &&
  $SDK get backups "$run/ours/big.bin" "$D/big.sdk" && cmp -s "$D/big.bin" "$D/big.sdk"
check "multi-block upload ($((4 * part + 12345)) bytes) read identical by the SDK" test $? -eq 0
blocks=$($SDK blocks backups "$run/ours/big.bin" 2>/dev/null)
check "multi-block upload committed 5 blocks (got ${blocks:-none})" test "${blocks:-}" = 5

"$CTL" storage put "$base/ours/$odd_name" "$D/odd.bin" 2>"$D/err" &&
  $SDK get backups "$run/ours/$odd_name" "$D/odd.sdk" && cmp -s "$D/odd.bin" "$D/odd.sdk"
check "name with space, '+' and non-ASCII (3 blocks) read identical by the SDK" test $? -eq 0

"$CTL" storage put "$base/ours/empty.bin" "$D/empty.bin" 2>"$D/err" &&
  $SDK get backups "$run/ours/empty.bin" "$D/empty.sdk" && cmp -s "$D/empty.bin" "$D/empty.sdk"
check "empty object read as 0 bytes by the SDK" test $? -eq 0

$SDK ls backups "$run/ours/" | sort >"$D/sdk-ls"
printf '%s\n' "$((4 * part + 12345)) $run/ours/big.bin" "0 $run/ours/empty.bin" \
  "1000 $run/ours/small.bin" "$((2 * part + 1)) $run/ours/$odd_name" | sort >"$D/want-ls"
check "the SDK lists exactly our names and sizes" cmp -s "$D/sdk-ls" "$D/want-ls"

# ---- SDK -> ours ----
$SDK put backups "$run/sdk/single.bin" "$D/sdk-single.bin" &&
  "$CTL" storage get "$base/sdk/single.bin" "$D/sdk-single.ours" 2>"$D/err" &&
  cmp -s "$D/sdk-single.bin" "$D/sdk-single.ours"
check "SDK single-shot blob read identical by us" test $? -eq 0

$SDK put backups "$run/sdk/$odd_name" "$D/sdk-multi.bin" 100000 &&
  "$CTL" storage get "$base/sdk/$odd_name" "$D/sdk-multi.ours" 2>"$D/err" &&
  cmp -s "$D/sdk-multi.bin" "$D/sdk-multi.ours"
check "SDK 4-block blob with an odd name read identical by us" test $? -eq 0

"$CTL" storage ls "$base/sdk" 2>"$D/err" | awk '{ $1 = ""; sub(/^ +/, ""); print }' | sort >"$D/our-ls"
printf '%s\n' "350000  $odd_name" "4321  single.bin" | awk '{ print }' | sort >"$D/want-our-ls"
sed -E 's/ +/ /' "$D/our-ls" >"$D/our-ls.n"; sed -E 's/ +/ /' "$D/want-our-ls" >"$D/want-our-ls.n"
check "we list the SDK's blobs with their sizes" cmp -s "$D/our-ls.n" "$D/want-our-ls.n"

sz=$("$CTL" storage stat "$base/sdk/$odd_name" 2>"$D/err" | awk '/^size:/ { print $2 }')
check "stat gives the SDK blob's size (got ${sz:-none})" test "${sz:-}" = 350000

# ---- SAS ----
sas_env() { env -u AZURE_STORAGE_ACCESS_KEY AZURE_STORAGE_SAS_TOKEN="$1" "$CTL" "${@:2}"; }
sas_env "?$AZURE_TEST_SAS_TOKEN" storage put "$base/sas/big.bin" "$D/big.bin" 2>"$D/err" &&
  sas_env "$AZURE_TEST_SAS_TOKEN" storage get "$base/sas/big.bin" "$D/sas.ours" 2>>"$D/err" &&
  cmp -s "$D/big.bin" "$D/sas.ours" && $SDK get backups "$run/sas/big.bin" "$D/sas.sdk" &&
  cmp -s "$D/big.bin" "$D/sas.sdk"
check "SAS auth (leading '?' stripped): multi-block put, get, read by the SDK" test $? -eq 0
sas_env "$AZURE_TEST_SAS_TOKEN" storage ls "$base/sas" >"$D/sas-ls" 2>"$D/err"
check "SAS auth: list" grep -q " big.bin$" "$D/sas-ls"

# ---- rejected credentials ----
sig=$(printf '%s' "$AZURE_TEST_SAS_TOKEN" | sed -E 's/.*sig=([^&]*).*/\1/')
wrong_key=$STORAGE_TEST_BAD_VALUE
AZURE_STORAGE_ACCESS_KEY=$wrong_key "$CTL" storage get "$base/ours/small.bin" "$D/x" 2>"$D/err-key"
rc=$?
check "wrong key: non-zero exit (got $rc)" test $rc -ne 0
check "wrong key: message names the server's code and HTTP 403" \
  grep -qE '(AuthenticationFailed|AuthorizationFailure).*HTTP 403|HTTP 403 (AuthenticationFailed|AuthorizationFailure)' "$D/err-key"
check "wrong key: the key is not printed" bash -c "! grep -qF -- '$wrong_key' '$D/err-key'"

garbled=$(printf '%s' "$AZURE_TEST_SAS_TOKEN" | sed -E 's/sig=[^&]*/sig=AAAAbm90LXRoZS1zaWduYXR1cmUAAAAAAAAAAAAAAAA%3D/')
sas_env "$garbled" storage put "$base/sas/nope.bin" "$D/small.bin" 2>"$D/err-sas"
rc=$?
check "garbled SAS: non-zero exit (got $rc)" test $rc -ne 0
check "garbled SAS: message names the server's code" grep -qE 'AuthenticationFailed|AuthorizationFailure' "$D/err-sas"
check "garbled SAS: no signature in the message" bash -c "! grep -qE 'sig=|AAAAbm90' '$D/err-sas'"
$SDK ls backups "$run/sas/nope" >"$D/nope-ls"
check "garbled SAS: nothing was written" test ! -s "$D/nope-ls"

# ---- delete, missing, check ----
"$CTL" storage rm "$base/ours/small.bin" 2>"$D/err"
$SDK ls backups "$run/ours/small.bin" >"$D/rm-ls"
check "rm deletes the blob the SDK saw" test ! -s "$D/rm-ls"
"$CTL" storage rm "$base/ours/small.bin" 2>"$D/err"
check "rm of a missing blob succeeds" test $? -eq 0
"$CTL" storage get "$base/ours/small.bin" "$D/x" 2>"$D/err-missing"
rc=$?
check "get of a missing blob exits 74 (got $rc) naming BlobNotFound" \
  bash -c "[ $rc -eq 74 ] && grep -q BlobNotFound '$D/err-missing'"
"$CTL" storage check "$base/probe" >"$D/check.out" 2>&1
check "backupctl storage check passes" test $? -eq 0

# ---- trace output carries no secret ----
sas_env "$AZURE_TEST_SAS_TOKEN" -vv storage put "$base/sas/trace.bin" "$D/small.bin" >"$D/trace" 2>&1
"$CTL" -vv storage get "$base/ours/big.bin" "$D/x" >>"$D/trace" 2>&1
check "-vv trace shows requests" grep -q "x-ms-version" "$D/trace"
check "-vv trace has no SAS signature or account key" \
  bash -c "! grep -qF -e '$sig' -e '$AZURE_STORAGE_ACCESS_KEY' '$D/trace'"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
