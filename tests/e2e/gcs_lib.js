#!/usr/bin/env node
/*
 * Drives a GCS endpoint with Google's own @google-cloud/storage library (v8.4.0 from
 * tests/node_modules), for tests/e2e/crosscheck_gcs.sh. Used to prove that the fake server behaves
 * like GCS for an independent client and that objects our driver writes are readable by Google's
 * library and vice versa.
 *
 * Auth: google-auth-library 11 signs an RS256 JWT with the key file's private key and exchanges it
 * (grant_type jwt-bearer) for an access token. It ignores the key file's token_uri and always posts
 * to https://oauth2.googleapis.com/token, so we rewrite that one URL to the key's token_uri with a
 * request interceptor on the auth client's own transporter; the JWT itself (aud =
 * https://oauth2.googleapis.com/token) is the library's, unchanged.
 *
 * usage: gcs_lib.js CMD ARGS...   (env: GOOGLE_APPLICATION_CREDENTIALS, GCS_ENDPOINT)
 *   put BUCKET KEY FILE [multipart|resumable|chunked:N]   get BUCKET KEY FILE
 *   ls BUCKET PREFIX [delimiter]   stat BUCKET KEY   rm BUCKET KEY   token
 *   pages BUCKET PREFIX MAX   (lists page by page with maxResults=MAX; prints "pages N items M")
 *   bulk BUCKET PREFIX N      (writes N small objects PREFIX00000.. with multipart uploads)
 * Note: resumable uploads create the session with File#createResumableUpload first (see put).
 * Prints results on stdout; exits 1 with the error's code and message on stderr.
 */
'use strict';

const path = require('path');
const fs = require('fs');
const modules = path.join(__dirname, '..', 'node_modules');
const { Storage } = require(path.join(modules, '@google-cloud', 'storage'));
const { JWT } = require(path.join(modules, 'google-auth-library'));

const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

function authClient() {
  const key = JSON.parse(fs.readFileSync(process.env.GOOGLE_APPLICATION_CREDENTIALS, 'utf8'));
  const jwt = new JWT({
    email: key.client_email,
    key: key.private_key,
    scopes: ['https://www.googleapis.com/auth/devstorage.read_write'],
  });
  jwt.transporter.interceptors.request.add({
    resolved: async (opts) => {
      if (String(opts.url) === GOOGLE_TOKEN_URL) opts.url = new URL(key.token_uri);
      return opts;
    },
  });
  return jwt;
}

function storage() {
  return new Storage({
    apiEndpoint: process.env.GCS_ENDPOINT,
    useAuthWithCustomEndpoint: true,
    authClient: authClient(),
    projectId: 'fake-project',
    retryOptions: { maxRetries: 1 },
  });
}

async function main() {
  const [cmd, ...a] = process.argv.slice(2);
  const st = storage();
  if (cmd === 'token') {
    const t = await authClient().getAccessToken();
    process.stdout.write(t.token ? 'token ok\n' : 'no token\n');
    return;
  }
  const bucket = st.bucket(a[0]);
  if (cmd === 'put') {
    const mode = a[3] || 'multipart';
    const opts = { resumable: mode !== 'multipart', validation: 'crc32c' };
    if (mode.startsWith('chunked:')) opts.chunkSize = Number(mode.slice(8));
    if (opts.resumable) {
      /* v8.4.0's File#startResumableUpload_ drops useAuthWithCustomEndpoint, so against a custom
       * endpoint it would POST the session request without a token; createResumableUpload passes
       * it. Chunk PUTs to a session URI need no token (the URI is the credential), as on GCS. */
      const [uri] = await bucket.file(a[1]).createResumableUpload({ metadata: { contentType: 'application/octet-stream' } });
      opts.uri = uri;
    }
    await bucket.upload(a[2], Object.assign({ destination: a[1] }, opts));
    process.stdout.write('put ok\n');
  } else if (cmd === 'get') {
    await bucket.file(a[1]).download({ destination: a[2], validation: true });
    process.stdout.write('get ok\n');
  } else if (cmd === 'ls') {
    const [files, , resp] = await bucket.getFiles({ prefix: a[1], delimiter: a[2], autoPaginate: true });
    for (const p of (resp && resp.prefixes) || []) process.stdout.write(`P ${p}\n`);
    for (const f of files) process.stdout.write(`${f.metadata.size} ${f.name}\n`);
  } else if (cmd === 'stat') {
    const [m] = await bucket.file(a[1]).getMetadata();
    process.stdout.write(`${m.size} ${m.md5Hash} ${m.crc32c}\n`);
  } else if (cmd === 'pages') {
    let query = { prefix: a[1], maxResults: Number(a[2]), autoPaginate: false };
    let pages = 0, items = 0;
    for (;;) {
      const [files, next] = await bucket.getFiles(query);
      pages++;
      items += files.length;
      if (!next || !next.pageToken) break;
      query = next;
    }
    process.stdout.write(`pages ${pages} items ${items}\n`);
  } else if (cmd === 'bulk') {
    const n = Number(a[2]);
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        await bucket.file(`${a[1]}${String(i).padStart(5, '0')}`).save(Buffer.from(`object ${i}\n`), { resumable: false });
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    process.stdout.write(`bulk ${n} ok\n`);
  } else if (cmd === 'rm') {
    await bucket.file(a[1]).delete({ ignoreNotFound: true });
    process.stdout.write('rm ok\n');
  } else {
    throw new Error(`unknown command ${cmd}`);
  }
}

main().catch(e => {
  process.stderr.write(`gcs_lib: ${e.code || ''} ${e.message}\n`);
  process.exit(1);
});
