#!/usr/bin/env bash
# Starts azurite's blob service only (tests/node_modules/.bin/azurite-blob) on 127.0.0.1:10000,
# strict mode (no --loose: it checks SharedKey and SAS signatures), data under $TEST_TMP/azurite.
# --skipApiVersionCheck because @azure/storage-blob 12.34 sends x-ms-version 2026-10-06, newer
# than azurite 3.37 knows; our driver sends 2021-08-06, which azurite accepts either way.
# Writes:
#   $TEST_TMP/azure.pids   pid of azurite (tests/servers/stop_servers.sh kills it)
#   $TEST_TMP/azure.env    export lines: STORAGE_TEST_URL, AZURE_STORAGE_ACCOUNT, _ACCESS_KEY,
#                          _ENDPOINT, AZURE_TEST_SAS_TOKEN (an account SAS for the tests) and
#                          STORAGE_TEST_BAD_VAR/_VALUE (a wrong key for the conformance auth test)
# Creates the container "backups" with the SDK (tests/servers/azblob-client.js).
set -euo pipefail
: "${TEST_TMP:?TEST_TMP must point at a scratch directory}"
here=$(cd "$(dirname "$0")" && pwd)
port=${AZURITE_BLOB_PORT:-10000}
account=devstoreaccount1
# azurite's documented, public development key (not a secret)
key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
endpoint="http://127.0.0.1:$port/$account"
# a well-formed key that is not azurite's, for the "bad credentials are rejected" tests
bad_key='d3JvbmctYXp1cml0ZS1rZXktZm9yLXRoZS1zdG9yYWdlLXRlc3RzLW9ubHktMDEyMzQ1Njc4OWFiY2RlZmdoaQ=='

mkdir -p "$TEST_TMP/azurite"
"$here/../node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$port" \
  --location "$TEST_TMP/azurite" --silent --skipApiVersionCheck --disableTelemetry \
  --disableProductStyleUrl >"$TEST_TMP/azurite.log" 2>&1 &
echo $! >"$TEST_TMP/azure.pids"

# ready when the blob port answers HTTP (an unauthenticated request gets a 4xx reply)
ready=0
for _ in $(seq 1 150); do
  if curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/$account?comp=list" 2>/dev/null | grep -q '^[1-5]'; then
    ready=1
    break
  fi
  sleep 0.1
done
if [ "$ready" != 1 ]; then
  echo "start_azure: azurite did not start:" >&2
  cat "$TEST_TMP/azurite.log" >&2
  exit 1
fi

export AZURE_STORAGE_ACCOUNT=$account AZURE_STORAGE_ACCESS_KEY=$key AZURE_STORAGE_ENDPOINT=$endpoint
node "$here/azblob-client.js" mkcontainer backups
sas=$(node "$here/azblob-client.js" sas 24)

umask 077
cat >"$TEST_TMP/azure.env" <<ENV
export STORAGE_TEST_URL=azure://backups/conformance
export AZURE_STORAGE_ACCOUNT=$account
export AZURE_STORAGE_ACCESS_KEY='$key'
export AZURE_STORAGE_ENDPOINT=$endpoint
export AZURE_TEST_SAS_TOKEN='$sas'
export STORAGE_TEST_BAD_VAR=AZURE_STORAGE_ACCESS_KEY
export STORAGE_TEST_BAD_VALUE='$bad_key'
ENV
echo "start_azure: azurite blob on http://127.0.0.1:$port (container backups), env in $TEST_TMP/azure.env"
