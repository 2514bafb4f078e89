#!/usr/bin/env bash
# Starts the FAKE GCS server (tests/servers/fake-gcs.js, our own re-implementation of the GCS JSON
# API subset we use - not Google's service) on 127.0.0.1:4443 with a service-account key made
# fresh for this run (no private key is ever committed). Writes:
#   $TEST_TMP/gcs-key.json   service-account key (type, client_email, private_key, token_uri)
#   $TEST_TMP/gcs-wrong-key.json  the same account with a different RSA key (must be rejected)
#   $TEST_TMP/gcs.pids       pid of the fake (tests/servers/stop_servers.sh kills it)
#   $TEST_TMP/gcs.env        export lines for the tests (STORAGE_TEST_URL, credentials, endpoint)
# Creates the bucket "backups" through the JSON API with a metadata-server token.
set -euo pipefail
: "${TEST_TMP:?TEST_TMP must point at a scratch directory}"
here=$(cd "$(dirname "$0")" && pwd)
port=${GCS_FAKE_PORT:-4443}
base="http://127.0.0.1:$port"
email="backup-test@fake-project.iam.gserviceaccount.com"

mkdir -p "$TEST_TMP/gcs-data"
umask 077
openssl genrsa -out "$TEST_TMP/gcs-key.pem" 2048 2>/dev/null
openssl rsa -in "$TEST_TMP/gcs-key.pem" -pubout -out "$TEST_TMP/gcs-pub.pem" 2>/dev/null
openssl genrsa -out "$TEST_TMP/gcs-wrong.pem" 2048 2>/dev/null
write_key() {   # PEM OUT
  KEY_PEM="$1" OUT="$2" EMAIL="$email" TOKEN_URI="$base/token" node -e '
    const fs = require("fs");
    const key = {
      type: "service_account", project_id: "fake-project", private_key_id: "0000000000000000000000000000000000000000",
      private_key: fs.readFileSync(process.env.KEY_PEM, "utf8"), client_email: process.env.EMAIL,
      client_id: "100000000000000000000", auth_uri: "https://accounts.google.com/o/oauth2/auth",
      token_uri: process.env.TOKEN_URI, universe_domain: "googleapis.com" };
    fs.writeFileSync(process.env.OUT, JSON.stringify(key, null, 2) + "\n", { mode: 0o600 });'
}
write_key "$TEST_TMP/gcs-key.pem" "$TEST_TMP/gcs-key.json"
write_key "$TEST_TMP/gcs-wrong.pem" "$TEST_TMP/gcs-wrong-key.json"
rm -f "$TEST_TMP/gcs-key.pem" "$TEST_TMP/gcs-wrong.pem"

node "$here/fake-gcs.js" --host 127.0.0.1 --port "$port" --dir "$TEST_TMP/gcs-data" \
  --public-key "$TEST_TMP/gcs-pub.pem" --client-email "$email" >"$TEST_TMP/gcs.log" 2>&1 &
echo $! >"$TEST_TMP/gcs.pids"

pid=$(cat "$TEST_TMP/gcs.pids")
for _ in $(seq 1 100); do
  grep -q 'listening on' "$TEST_TMP/gcs.log" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if ! kill -0 "$pid" 2>/dev/null || ! curl -fsS "$base/_fake/stats" >/dev/null; then
  echo "start_gcs: fake GCS did not start (port $port in use?):" >&2; cat "$TEST_TMP/gcs.log" >&2; exit 1
fi

token=$(curl -fsS -H "Metadata-Flavor: Google" \
  "$base/computeMetadata/v1/instance/service-accounts/default/token" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).access_token))')
curl -fsS -X POST -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
  --data '{"name":"backups"}' "$base/storage/v1/b?project=fake-project" >/dev/null

cat >"$TEST_TMP/gcs.env" <<ENV
export STORAGE_TEST_URL=gs://backups/conformance
export GOOGLE_APPLICATION_CREDENTIALS=$TEST_TMP/gcs-key.json
export GCS_ENDPOINT=$base
export STORAGE_TEST_BAD_VAR=GOOGLE_APPLICATION_CREDENTIALS
export STORAGE_TEST_BAD_VALUE=$TEST_TMP/gcs-wrong-key.json
ENV
echo "start_gcs: fake GCS on $base (bucket backups), env in $TEST_TMP/gcs.env"
