#!/usr/bin/env bash
# No credential, signature, SAS token or bearer token may appear in backupctl's output at the
# most verbose log level (-vv = trace, which prints every HTTP header), on success or failure.
# Runs storage put/get/ls/stat/check/rm against every server the tests start, then greps the
# combined output for the fixture secrets.
set -u
cd "$(dirname "$0")/../.."
CTL=$PWD/${BUILD:-build}/bin/backupctl
export TEST_TMP=${TEST_TMP:-$(mktemp -d)}
trap 'bash tests/servers/stop_servers.sh 2>/dev/null' EXIT
pass=0; fail=0
ok() { echo "ok - $*"; pass=$((pass+1)); }
not_ok() { echo "not ok - $*"; fail=$((fail+1)); }
LOG=$TEST_TMP/all-output.log
: > "$LOG"
echo "secret payload" > "$TEST_TMP/payload"

exercise() {   # URL_PREFIX
  local u=$1
  { "$CTL" -vv storage put "$u/secrets-test/obj.txt" "$TEST_TMP/payload"
    "$CTL" -vv storage get "$u/secrets-test/obj.txt" -
    "$CTL" -vv storage ls "$u/secrets-test"
    "$CTL" -vv storage stat "$u/secrets-test/obj.txt"
    "$CTL" -vv storage check "$u"
    "$CTL" -vv storage rm "$u/secrets-test/obj.txt"
    "$CTL" -vv storage get "$u/secrets-test/missing.txt" - ; } >>"$LOG" 2>&1
}

secrets=()
for drv in s3 azure gcs; do
  bash "tests/servers/start_$drv.sh" >"$TEST_TMP/$drv-start.log" 2>&1 || { not_ok "$drv server started"; continue; }
  ( . "$TEST_TMP/$drv.env"
    url=${STORAGE_TEST_URL%/*}
    exercise "$url"
    # the same with a wrong secret, so error paths are covered too
    case $drv in
      s3) AWS_SECRET_ACCESS_KEY="wrong-$AWS_SECRET_ACCESS_KEY" exercise "$url" ;;
      azure) AZURE_STORAGE_ACCESS_KEY="d3JvbmdrZXl3cm9uZ2tleXdyb25na2V5" exercise "$url"
             if [ -n "${AZURE_TEST_SAS_TOKEN:-}" ]; then
               AZURE_STORAGE_ACCESS_KEY= AZURE_STORAGE_SAS_TOKEN="$AZURE_TEST_SAS_TOKEN" exercise "$url"
             fi ;;
    esac
    env | grep -E '^(AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|AZURE_STORAGE_ACCESS_KEY|AZURE_TEST_SAS_TOKEN)=' > "$TEST_TMP/$drv.secrets" || true
    if [ -n "${GOOGLE_APPLICATION_CREDENTIALS:-}" ]; then
      python3 -c 'import json,sys; k=json.load(open(sys.argv[1]))["private_key"]; [print("GCS_KEY_LINE="+l) for l in k.splitlines() if "-----" not in l][:3]' "$GOOGLE_APPLICATION_CREDENTIALS" >> "$TEST_TMP/$drv.secrets"
    fi )
  ok "$drv commands ran at -vv"
done

lines=$(wc -l < "$LOG")
[ "$lines" -gt 50 ] && ok "trace output captured ($lines lines)" || not_ok "too little trace output ($lines lines)"
grep -q 'Authorization: \[redacted\]' "$LOG" && ok "authorization headers appear redacted" || not_ok "no redacted Authorization header seen (is tracing working?)"
if grep -E '^> (Authorization|authorization): ' "$LOG" | grep -qv '\[redacted\]'; then not_ok "an Authorization value was printed"; else ok "no Authorization value printed"; fi
for f in "$TEST_TMP"/*.secrets; do
  [ -f "$f" ] || continue
  while IFS= read -r line; do
    name=${line%%=*}; value=${line#*=}
    [ -z "$value" ] && continue
    # a SAS token's signature is the secret part
    if [ "$name" = AZURE_TEST_SAS_TOKEN ]; then value=$(echo "$value" | sed -E 's/.*sig=([^&]*).*/\1/'); fi
    if grep -qF -- "$value" "$LOG"; then not_ok "$name leaked into the output"; else ok "$name not in the output"; fi
  done < "$f"
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
