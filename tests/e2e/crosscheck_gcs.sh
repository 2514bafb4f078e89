#!/usr/bin/env bash
# Cross-checks the GCS driver and the FAKE GCS server (tests/servers/fake-gcs.js - our own
# re-implementation, not Google's service) with Google's @google-cloud/storage 8.4.0 library:
#  - the fake is faithful: the library authenticates (its own RS256 JWT, exchanged at the fake's
#    /token), uploads (multipart, resumable single- and multi-chunk), downloads with hash
#    validation, lists with pageToken, deletes; the fake enforces 256 KiB chunks, bearer tokens,
#    Metadata-Flavor, Range/416, JWT signatures (a different RSA key is rejected);
#  - our driver interoperates: objects we write (media and resumable multi-chunk uploads with
#    BACKUP_PART_SIZE=256KiB, binary, empty, names with spaces/'+'/non-ASCII) are read
#    byte-identical by the library and vice versa; listing over 1000 keys; delete semantics;
#    metadata-server auth; resend after a dropped chunk and a 503; a wrong md5Hash gives
#    BK_ECORRUPT and no object; a download that differs from x-goog-hash fails; a revoked token
#    is refreshed once; no token, JWT, private key or session URI in -vv logs.
# Uses `backupctl storage put|get|ls|rm|stat` ($BACKUPCTL, default build/bin/backupctl) and
# tests/e2e/gcs_lib.js. Prints ok/not ok lines and "N passed, M failed"; exits 1 on failure.
set -u
cd "$(dirname "$0")/../.."
CTL=${BACKUPCTL:-$PWD/${BUILD:-build}/bin/backupctl}
LIB="node $PWD/tests/e2e/gcs_lib.js"
export NODE_NO_WARNINGS=1
export TEST_TMP=${TEST_TMP:-$(mktemp -d /tmp/crosscheck-gcs.XXXXXX)}
trap 'bash tests/servers/stop_servers.sh 2>/dev/null' EXIT
pass=0; fail=0
ok() { echo "ok - $*"; pass=$((pass+1)); }
not_ok() { echo "not ok - $*"; fail=$((fail+1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }

if ! bash tests/servers/start_gcs.sh >"$TEST_TMP/gcs-start.log" 2>&1; then
  cat "$TEST_TMP/gcs-start.log"; not_ok "fake GCS started"; finish
fi
. "$TEST_TMP/gcs.env"
[ -x "$CTL" ] || { not_ok "backupctl found at $CTL"; finish; }
EP=$GCS_ENDPOINT

# request log of the fake: "METHOD uploadType Content-Range status" per upload-session request
reqs_clear() { curl -fsS -X DELETE "$EP/_fake/requests" >/dev/null; }
upload_reqs() {
  curl -fsS "$EP/_fake/requests" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
    for (const r of JSON.parse(s).requests) if (r.path.startsWith("/upload/"))
      console.log([r.method, r.uploadType || "-", r.contentRange || "-", r.status === null ? "dropped" : r.status].join(" "))})'
}
count_reqs() {   # METHOD PATH
  curl -fsS "$EP/_fake/requests" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
    console.log(JSON.parse(s).requests.filter(r => r.method === process.argv[1] && r.path === process.argv[2]).length)})' "$1" "$2"
}
stat_field() { curl -fsS "$EP/_fake/stats" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]))' "$1"; }
fault() { curl -fsS -X POST -H 'Content-Type: application/json' --data "$1" "$EP/_fake/faults" >/dev/null; }

run=xc-$$-$RANDOM
base="gs://backups/$run"
D=$TEST_TMP/files
mkdir -p "$D"
export BACKUP_PART_SIZE=256KiB           # 262144-byte chunks: multi-chunk paths on small files
part=262144
head -c 1000 /dev/urandom >"$D/small.bin"
head -c $((4 * part + 12345)) /dev/urandom >"$D/big.bin"     # 5 chunks
head -c $((2 * part)) /dev/urandom >"$D/exact.bin"           # 2 full chunks, the last one full
head -c $((2 * part + 1)) /dev/urandom >"$D/odd.bin"         # 3 chunks, 1-byte tail
: >"$D/empty.bin"
head -c 700000 /dev/urandom >"$D/lib-big.bin"
head -c 4321 /dev/urandom >"$D/lib-small.bin"
odd_name='sp ace+plus ünï€.bin'

# ---- the fake, driven by Google's library ----
out=$($LIB token 2>&1)
check "library fetched a token with its own RS256 JWT at the fake's /token ($out)" test "$out" = "token ok"
$LIB put backups "$run/lib/small.bin" "$D/lib-small.bin" multipart >/dev/null 2>"$D/err" &&
  $LIB get backups "$run/lib/small.bin" "$D/lib-small.back" >/dev/null 2>>"$D/err" && cmp -s "$D/lib-small.bin" "$D/lib-small.back"
check "library multipart upload + validated download round trip" test $? -eq 0
reqs_clear
$LIB put backups "$run/lib/big.bin" "$D/lib-big.bin" chunked:$part >/dev/null 2>"$D/err" &&
  $LIB get backups "$run/lib/big.bin" "$D/lib-big.back" >/dev/null 2>>"$D/err" && cmp -s "$D/lib-big.bin" "$D/lib-big.back"
check "library chunked resumable upload (3 chunks) + validated download round trip" test $? -eq 0
got=$(upload_reqs | tr '\n' '|')
want="POST resumable - 200|PUT resumable bytes */* 308|PUT resumable bytes 0-262143/* 308|PUT resumable bytes 262144-524287/* 308|PUT resumable bytes 524288-699999/700000 200|"
check "library's resumable protocol as GCS answers it (got: $got)" test "$got" = "$want"
$LIB put backups "$run/lib/$odd_name" "$D/lib-small.bin" resumable >/dev/null 2>"$D/err"
check "library single-request resumable upload (bytes 0-*/*) of a non-ASCII name" test $? -eq 0
$LIB pages backups "$run/lib/" 2 >"$D/pages" 2>"$D/err"
check "library pages through a listing with maxResults=2 and pageToken ($(cat "$D/pages"))" test "$(cat "$D/pages")" = "pages 2 items 3"

# protocol rules the fake enforces, as GCS does
tok=$(curl -fsS -H 'Metadata-Flavor: Google' "$EP/computeMetadata/v1/instance/service-accounts/default/token" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).access_token))')
code=$(curl -s -o /dev/null -w '%{http_code}' "$EP/computeMetadata/v1/instance/service-accounts/default/token")
check "metadata server refuses a request without Metadata-Flavor (HTTP $code)" test "$code" = 403
body=$(curl -s "$EP/storage/v1/b/backups/o")
check "request without a bearer token gets 401 reason required" test "$(echo "$body" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const e=JSON.parse(s).error;console.log(e.code+" "+e.errors[0].reason)})')" = "401 required"
body=$(curl -s -H 'Authorization: Bearer ya29.not-issued' "$EP/storage/v1/b/backups/o")
check "request with an unknown bearer token gets 401 Invalid Credentials" test "$(echo "$body" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const e=JSON.parse(s).error;console.log(e.code+" "+e.message)})')" = "401 Invalid Credentials"
body=$(curl -s -X POST --data 'grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c' -H 'Content-Type: application/x-www-form-urlencoded' "$EP/token")
check "token endpoint rejects a garbage assertion with invalid_grant ($(echo $body | tr -d "\n"))" test "$(echo "$body" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).error))')" = invalid_grant
loc=$(curl -s -D - -o /dev/null -X POST -H "Authorization: Bearer $tok" "$EP/upload/storage/v1/b/backups/o?uploadType=resumable&name=$run%2Fshort" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
body=$(head -c 1000 /dev/zero | curl -s -w ' %{http_code}' -X PUT -H 'Content-Range: bytes 0-999/*' --data-binary @- "$loc")
check "a non-final chunk under 256 KiB gets GCS's 400" test "${body##* }" = 400 -a -n "$(echo "$body" | grep -o 'required to be equal or greater than 262144')"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$loc")
check "DELETE of a session URI cancels it with 499 (HTTP $code)" test "$code" = 499
hdr=$(curl -s -D - -o "$D/range.out" -H "Authorization: Bearer $tok" -H 'Range: bytes=10-19' "$EP/storage/v1/b/backups/o/$run%2Flib%2Fsmall.bin?alt=media" | tr -d '\r')
check "ranged GET answers 206 with Content-Range and the 10 bytes" test -n "$(echo "$hdr" | grep -ix 'content-range: bytes 10-19/4321')" -a "$(cmp -s "$D/range.out" <(tail -c +11 "$D/lib-small.bin" | head -c 10) && echo same)" = same
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" -H 'Range: bytes=4321-' "$EP/storage/v1/b/backups/o/$run%2Flib%2Fsmall.bin?alt=media")
check "a range starting at the end gets 416 (HTTP $code)" test "$code" = 416

# ---- ours -> library ----
"$CTL" storage put "$base/ours/small.bin" "$D/small.bin" 2>"$D/err" &&
  $LIB get backups "$run/ours/small.bin" "$D/small.lib" >/dev/null && cmp -s "$D/small.bin" "$D/small.lib"
check "media upload (1000 bytes) read identical by the library" test $? -eq 0

reqs_clear
tokens_before=$(stat_field tokenRequests)
"$CTL" storage put "$base/ours/big.bin" "$D/big.bin" 2>"$D/err"; rc=$?
tokens_after=$(stat_field tokenRequests)
test $rc -eq 0 && $LIB get backups "$run/ours/big.bin" "$D/big.lib" >/dev/null && cmp -s "$D/big.bin" "$D/big.lib"
check "resumable upload ($((4 * part + 12345)) bytes, 5 chunks) read identical by the library" test $? -eq 0
check "one token fetched for the whole resumable upload (got $((tokens_after - tokens_before)))" test $((tokens_after - tokens_before)) -eq 1
got=$(upload_reqs | tr '\n' '|')
want="POST resumable - 200|PUT resumable bytes 0-262143/* 308|PUT resumable bytes 262144-524287/* 308|PUT resumable bytes 524288-786431/* 308|PUT resumable bytes 786432-1048575/* 308|PUT resumable bytes 1048576-1060920/1060921 200|"
check "our chunks: a-b/* then a-b/total on the last (got: $got)" test "$got" = "$want"

"$CTL" storage put "$base/ours/exact.bin" "$D/exact.bin" 2>"$D/err" &&
  $LIB get backups "$run/ours/exact.bin" "$D/exact.lib" >/dev/null && cmp -s "$D/exact.bin" "$D/exact.lib"
check "object of exactly 2 chunks (last chunk full) read identical by the library" test $? -eq 0
"$CTL" storage put "$base/ours/$odd_name" "$D/odd.bin" 2>"$D/err" &&
  $LIB get backups "$run/ours/$odd_name" "$D/odd.lib" >/dev/null && cmp -s "$D/odd.bin" "$D/odd.lib"
check "name with space, '+' and non-ASCII (3 chunks, 1-byte tail) read identical by the library" test $? -eq 0
"$CTL" storage put "$base/ours/empty.bin" "$D/empty.bin" 2>"$D/err" &&
  $LIB get backups "$run/ours/empty.bin" "$D/empty.lib" >/dev/null && cmp -s "$D/empty.bin" "$D/empty.lib"
check "empty object read as 0 bytes by the library" test $? -eq 0
got=$($LIB stat backups "$run/ours/big.bin" 2>/dev/null | cut -d' ' -f1-2)
check "library sees size and md5Hash of our upload ($got)" test "$got" = "$((4 * part + 12345)) $(openssl md5 -binary "$D/big.bin" | base64)"

$LIB ls backups "$run/ours/" | sed "s#$run/ours/##" | sort >"$D/lib-ls"
"$CTL" storage ls "$base/ours" 2>"$D/err" | awk '{ s=$2; $1=""; $2=""; sub(/^  /, ""); print s " " $0 }' | sort >"$D/our-ls"
check "our listing equals the library's (5 objects, sizes and names)" test "$(cat "$D/our-ls")" = "$(cat "$D/lib-ls")" -a "$(wc -l <"$D/our-ls")" -eq 5

# ---- library -> ours ----
$LIB put backups "$run/lib2/a.bin" "$D/lib-small.bin" multipart >/dev/null &&
  "$CTL" storage get "$base/lib2/a.bin" "$D/a.ours" 2>"$D/err" && cmp -s "$D/lib-small.bin" "$D/a.ours"
check "library multipart upload read identical by us" test $? -eq 0
$LIB put backups "$run/lib2/$odd_name" "$D/lib-big.bin" chunked:$part >/dev/null &&
  "$CTL" storage get "$base/lib2/$odd_name" "$D/b.ours" 2>"$D/err" && cmp -s "$D/lib-big.bin" "$D/b.ours"
check "library chunked resumable upload of a non-ASCII name read identical by us" test $? -eq 0
"$CTL" storage get "$base/lib/big.bin" "$D/c.ours" 2>"$D/err" && cmp -s "$D/lib-big.bin" "$D/c.ours"
check "library resumable upload read identical by us (md5 of the download checked)" test $? -eq 0
"$CTL" storage ls --dirs "gs://backups/$run" >"$D/dirs" 2>"$D/err"
check "ls --dirs shows the folders as DIR entries" test "$(awk '$1=="DIR"{print $2}' "$D/dirs" | tr '\n' ' ')" = "lib/ lib2/ ours/ "

# ---- listing over 1000 keys ----
$LIB bulk backups "$run/many/k" 1005 >/dev/null 2>"$D/err"
reqs_clear
n=$("$CTL" storage ls "$base/many" 2>"$D/err" | wc -l)
check "our listing of 1005 keys returns all of them (got $n)" test "$n" -eq 1005
n=$(count_reqs GET /storage/v1/b/backups/o)
check "... in 2 pages of at most 1000 (got $n list requests)" test "$n" -eq 2

# ---- delete ----
"$CTL" storage rm "$base/ours/small.bin" 2>"$D/err" && ! $LIB stat backups "$run/ours/small.bin" >/dev/null 2>&1
check "our delete removes the object for the library" test $? -eq 0
"$CTL" storage rm "$base/ours/small.bin" 2>"$D/err"
check "deleting a missing object succeeds (404 = done)" test $? -eq 0
$LIB rm backups "$run/lib2/a.bin" >/dev/null; "$CTL" storage stat "$base/lib2/a.bin" >/dev/null 2>"$D/err"; rc=$?
check "stat of an object the library deleted exits 74 (not found; got $rc)" test "$rc" -eq 74 -a -n "$(grep -F 'HTTP 404 notFound: No such object: backups/' "$D/err")"

# ---- faults: dropped chunk, 503, wrong md5Hash, revoked token ----
head -c $((4 * part + 100)) /dev/urandom >"$D/drop.bin"
reqs_clear
fault '{"kind":"drop_chunk","persist_bytes":262144}'
BACKUP_PART_SIZE=512KiB "$CTL" storage put "$base/faults/drop.bin" "$D/drop.bin" 2>"$D/err" &&
  $LIB get backups "$run/faults/drop.bin" "$D/drop.lib" >/dev/null && cmp -s "$D/drop.bin" "$D/drop.lib"
check "upload survives a connection dropped mid-chunk, object identical" test $? -eq 0
got=$(upload_reqs | tr '\n' '|')
want="POST resumable - 200|PUT resumable bytes 0-524287/* dropped|PUT resumable bytes */* 308|PUT resumable bytes 262144-524287/* 308|PUT resumable bytes 524288-1048575/* 308|PUT resumable bytes 1048576-1048675/1048676 200|"
check "after the drop: status query, then resend from the committed offset 262144 (got: $got)" test "$got" = "$want"

reqs_clear
fault '{"kind":"chunk_503"}'
"$CTL" storage put "$base/faults/503.bin" "$D/odd.bin" 2>"$D/err" &&
  $LIB get backups "$run/faults/503.bin" "$D/503.lib" >/dev/null && cmp -s "$D/odd.bin" "$D/503.lib"
check "upload survives a 503 on a chunk, object identical" test $? -eq 0
got=$(upload_reqs | head -4 | tr '\n' '|')
check "after the 503: status query and the chunk resent (got: $got)" test "$got" = "POST resumable - 200|PUT resumable bytes 0-262143/* 503|PUT resumable bytes */* 308|PUT resumable bytes 0-262143/* 308|"

fault '{"kind":"wrong_md5"}'
"$CTL" storage put "$base/faults/corrupt.bin" "$D/small.bin" 2>"$D/err"; rc=$?
check "a wrong md5Hash from the server fails the put (exit $rc) naming both hashes" test "$rc" -eq 1 -a -n "$(grep -E "GCS reports md5Hash [A-Za-z0-9+/=]+ for \"$run/faults/corrupt.bin\" but we sent MD5 $(openssl md5 -binary "$D/small.bin" | base64 | sed 's/[+/]/\\&/g'); the object was deleted" "$D/err")"
! $LIB stat backups "$run/faults/corrupt.bin" >/dev/null 2>&1
check "... and leaves no object behind" test $? -eq 0
fault '{"kind":"wrong_md5"}'
"$CTL" storage put "$base/faults/corrupt-big.bin" "$D/odd.bin" 2>"$D/err"; rc=$?
check "a wrong md5Hash after a resumable upload fails it too (exit $rc), no object left" test "$rc" -eq 1 -a -n "$(grep -F 'GCS reports md5Hash' "$D/err")" -a "$($LIB stat backups "$run/faults/corrupt-big.bin" >/dev/null 2>&1 || echo gone)" = gone

fault '{"kind":"flip_download"}'
"$CTL" storage get "$base/ours/big.bin" "$D/flip.ours" 2>"$D/err"; rc=$?
check "a download whose bytes differ from x-goog-hash md5 fails (exit $rc) and writes no file" test "$rc" -eq 1 -a ! -e "$D/flip.ours" -a -n "$(grep -F "downloaded \"$run/ours/big.bin\" has MD5" "$D/err")"

before=$(stat_field tokenRequests)
fault '{"kind":"revoke_tokens"}'
"$CTL" storage stat "$base/ours/big.bin" >/dev/null 2>"$D/err"; rc=$?
after=$(stat_field tokenRequests)
check "a token revoked mid-run is replaced after the 401 (exit $rc, $((after - before)) token requests)" test "$rc" -eq 0 -a $((after - before)) -eq 2

# ---- credentials ----
wrong=$TEST_TMP/gcs-wrong-key.json     # same account, a different RSA key (start_gcs.sh)
issued=$(stat_field tokensIssued)
GOOGLE_APPLICATION_CREDENTIALS=$wrong "$CTL" storage ls "$base/ours" >/dev/null 2>"$D/err"; rc=$?
check "a key with a different RSA key is rejected (exit $rc): HTTP 400 invalid_grant: Invalid JWT Signature." test "$rc" -eq 1 -a -n "$(grep -F 'failed: HTTP 400 invalid_grant: Invalid JWT Signature.' "$D/err")"
GOOGLE_APPLICATION_CREDENTIALS=$wrong $LIB ls backups "$run/ours/" >/dev/null 2>"$D/err"; rc=$?
check "the library with the wrong key is rejected too (exit $rc: $(head -c 80 "$D/err"))" test "$rc" -ne 0 -a -n "$(grep -F 'invalid_grant' "$D/err")"
check "no token was issued for the wrong key" test "$(stat_field tokensIssued)" = "$issued"
(unset GOOGLE_APPLICATION_CREDENTIALS; GCE_METADATA_HOST=${EP#http://} "$CTL" storage get "$base/ours/big.bin" "$D/meta.ours" 2>"$D/err") && cmp -s "$D/big.bin" "$D/meta.ours"
check "without a key file the metadata server's token is used (GCE_METADATA_HOST)" test $? -eq 0

# ---- secrets stay out of the trace output ----
"$CTL" -vv storage put "$base/trace/t.bin" "$D/odd.bin" >"$D/trace.log" 2>&1
"$CTL" -vv storage get "$base/trace/t.bin" - >/dev/null 2>>"$D/trace.log"
GOOGLE_APPLICATION_CREDENTIALS=$wrong "$CTL" -vv storage ls "$base/trace" >>"$D/trace.log" 2>&1
check "trace output shows redacted Authorization headers" test -n "$(grep -F 'Authorization: [redacted]' "$D/trace.log")"
leaks=0
for t in $(curl -fsS "$EP/_fake/tokens" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).tokens.join("\n")))'); do
  grep -qF -- "$t" "$D/trace.log" && leaks=$((leaks + 1))
done
grep -qF 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9' "$D/trace.log" && leaks=$((leaks + 1))     # a JWT
grep -qF "$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).private_key.split("\n")[5])' "$GOOGLE_APPLICATION_CREDENTIALS")" "$D/trace.log" && leaks=$((leaks + 1))
check "no access token, JWT or private key line in -vv output ($leaks found)" test "$leaks" -eq 0
# the resumable session URI is a bearer capability too (GCS accepts chunks on it without a token)
n=$(grep -cE 'upload_id=|X-GUploader-UploadID: [^[]' "$D/trace.log")
check "no resumable session URI or upload id in -vv output ($n lines)" test "$n" -eq 0

finish
