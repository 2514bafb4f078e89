#!/usr/bin/env bash
# Starts s3rver 3.7.1 (tests/node_modules) on 127.0.0.1:$S3RVER_PORT (4568) with the bucket
# "backups", and tests/servers/sigv4-proxy.js on 127.0.0.1:$S3_PROXY_PORT (4569) in front of
# it: clients talk to the proxy, which checks SigV4, Content-MD5 and plays STS. Writes:
#   $TEST_TMP/s3.pids                 pids (tests/servers/stop_servers.sh kills them)
#   $TEST_TMP/s3.env                  export lines for the tests
#   $TEST_TMP/s3-web-identity-token   a fresh web identity token the fake STS accepts
# The access key is s3rver's built-in account (S3RVER); the secret is made fresh for each run
# (s3rver itself never checks V4 signatures - the proxy does, with this secret), so a test
# that greps logs for the secret cannot confuse it with the access key.
set -euo pipefail
: "${TEST_TMP:?TEST_TMP must point at a scratch directory}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
s3_port=${S3RVER_PORT:-4568}
proxy_port=${S3_PROXY_PORT:-4569}
data="$TEST_TMP/s3rver-data"
s3rver="$root/tests/node_modules/.bin/s3rver"
[ -x "$s3rver" ] || { echo "start_s3: $s3rver missing (run: make deps)" >&2; exit 1; }

mkdir -p "$data"
umask 077
token=$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')
printf '%s\n' "$token" >"$TEST_TMP/s3-web-identity-token"
secret="test-$(head -c 30 /dev/urandom | base64 | tr -d '/+=\n')"

# s3rver: --configure-bucket takes the bucket name (plus optional config files).
# --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation tokens with DES, which
# OpenSSL 3 (Node >= 17) only offers through the legacy provider; without it every listing
# of more than 1000 keys fails with 500 InternalError.
node --openssl-legacy-provider "$s3rver" -d "$data" -a 127.0.0.1 -p "$s3_port" --silent --configure-bucket backups \
  >"$TEST_TMP/s3rver.log" 2>&1 &
echo $! >"$TEST_TMP/s3.pids"
node "$here/sigv4-proxy.js" --listen "127.0.0.1:$proxy_port" --upstream "127.0.0.1:$s3_port" \
  --access-key S3RVER --secret-key "$secret" --region us-east-1 --web-token "$token" \
  >"$TEST_TMP/sigv4-proxy.log" 2>&1 &
echo $! >>"$TEST_TMP/s3.pids"

ready=0
for _ in $(seq 1 150); do
  if curl -fsS "http://127.0.0.1:$proxy_port/__proxy/stats" >/dev/null 2>&1 &&
     curl -sS -o /dev/null "http://127.0.0.1:$s3_port/" 2>/dev/null; then
    ready=1; break
  fi
  sleep 0.1
done
if [ $ready -ne 1 ]; then
  echo "start_s3: servers did not start" >&2
  cat "$TEST_TMP/s3rver.log" "$TEST_TMP/sigv4-proxy.log" >&2
  exit 1
fi
# the bucket must exist before anyone writes (s3rver creates it at startup)
for _ in $(seq 1 50); do [ -d "$data/backups" ] && break; sleep 0.1; done
[ -d "$data/backups" ] || { echo "start_s3: bucket backups was not created" >&2; exit 1; }

cat >"$TEST_TMP/s3.env" <<ENV
export STORAGE_TEST_URL=s3://backups/conformance
export AWS_ENDPOINT=http://127.0.0.1:$proxy_port
export AWS_REGION=us-east-1
export AWS_S3_FORCE_PATH_STYLE=true
export AWS_ACCESS_KEY_ID=S3RVER
export AWS_SECRET_ACCESS_KEY=$secret
export STORAGE_TEST_BAD_VAR=AWS_SECRET_ACCESS_KEY
export STORAGE_TEST_BAD_VALUE=not-the-test-secret
export S3_PROXY_URL=http://127.0.0.1:$proxy_port
export S3_TEST_STS_ENDPOINT=http://127.0.0.1:$proxy_port/sts
export S3_TEST_ROLE_ARN=arn:aws:iam::123456789012:role/backupd-test
export S3_TEST_WEB_IDENTITY_TOKEN_FILE=$TEST_TMP/s3-web-identity-token
ENV
echo "start_s3: s3rver on 127.0.0.1:$s3_port, SigV4 proxy on http://127.0.0.1:$proxy_port (bucket backups), env in $TEST_TMP/s3.env"
