#!/usr/bin/env node
/*
 * FAKE Google Cloud Storage server for tests. This is NOT Google's service and not an emulator
 * from Google: it is our own small re-implementation of the subset of the GCS JSON API that the
 * backupd "gs" driver and the @google-cloud/storage library use, written to behave as the real
 * service does (status codes, headers, JSON bodies, error texts) so that tests mean something.
 * tests/e2e/crosscheck_gcs.sh drives it with the real @google-cloud/storage library to prove it.
 *
 * What it enforces (requests that break a rule get the real service's answer):
 *  - OAuth2: POST /token takes grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer and an RS256
 *    JWT assertion whose signature must verify with the PUBLIC half of the test service-account
 *    key (--public-key), iss must be --client-email, aud must be this token URL (or Google's
 *    https://oauth2.googleapis.com/token), exp - iat <= 3600, iat not in the future, exp not past,
 *    scope must name a storage scope. It answers {access_token, expires_in, token_type}.
 *  - Every /storage and /upload request needs "Authorization: Bearer <token we issued>" (or a
 *    self-signed service-account JWT, which real GCS also accepts): 401 JSON error otherwise;
 *    write requests need a read_write/full_control/cloud-platform scope (403 otherwise).
 *  - Uploads: uploadType=media, multipart (multipart/related) and resumable (session URI in
 *    Location; PUT chunks with Content-Range; 308 Resume Incomplete with Range: bytes=0-N; non-final
 *    chunks must be multiples of 256 KiB (400); offsets past the persisted size get 503 as GCS
 *    does; already-persisted bytes in a resent chunk are skipped; an empty PUT with "bytes *\/*" queries status;
 *    DELETE cancels with 499). X-Goog-Hash (md5/crc32c) and md5Hash/crc32c in metadata are checked.
 *  - Objects carry md5Hash, crc32c, etag, generation, metageneration, size, updated, timeCreated;
 *    GET ?alt=media (full or Range, 206/416) sends x-goog-hash and x-goog-generation.
 *  - List with prefix, delimiter, pageToken, maxResults (capped at 1000) -> items, prefixes,
 *    nextPageToken, in UTF-8 byte order. DELETE answers 204, 404 JSON errors for missing objects.
 *  - Metadata server: GET /computeMetadata/v1/instance/service-accounts/default/token requires
 *    "Metadata-Flavor: Google" (403 otherwise).
 * Test hooks (not GCS): /_fake/faults (inject a dropped connection, a 5xx, a wrong md5Hash, a
 * flipped download byte or revoked tokens), /_fake/requests (request log without credentials), /_fake/stats,
 * /_fake/expire-tokens, /_fake/tokens (the fake tokens issued, so tests can grep logs for them).
 * Objects live under --dir (a temp directory); metadata lives in memory. Binds 127.0.0.1 only.
 */
'use strict';

const http = require('http');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const KIB256 = 256 * 1024;
const MAX_BODY = 64 * 1024 * 1024;        /* bound on one request body kept in memory */
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const SCOPE_RW = [
  'https://www.googleapis.com/auth/devstorage.read_write',
  'https://www.googleapis.com/auth/devstorage.full_control',
  'https://www.googleapis.com/auth/cloud-platform',
];
const SCOPE_RO = [
  'https://www.googleapis.com/auth/devstorage.read_only',
  'https://www.googleapis.com/auth/cloud-platform.read-only',
];

/* ---------- options ---------- */
function parseArgs(argv) {
  const o = { host: '127.0.0.1', port: 4443, dir: null, publicKey: null, clientEmail: null,
    buckets: [], tokenTtl: 3599 };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const v = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--host') o.host = v();
    else if (a === '--port') o.port = Number(v());
    else if (a === '--dir') o.dir = v();
    else if (a === '--public-key') o.publicKey = v();
    else if (a === '--client-email') o.clientEmail = v();
    else if (a === '--bucket') o.buckets.push(v());
    else if (a === '--token-ttl') o.tokenTtl = Number(v());
    else throw new Error(`unknown option ${a}`);
  }
  if (!o.dir || !o.publicKey || !o.clientEmail)
    throw new Error('usage: fake-gcs.js --dir DIR --public-key PEM --client-email EMAIL [--bucket B]... [--port 4443]');
  if (o.host !== '127.0.0.1' && o.host !== 'localhost') throw new Error('the fake binds 127.0.0.1 only');
  return o;
}

/* ---------- CRC32C (Castagnoli), as GCS reports it: base64 of the big-endian value ---------- */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = (c & 1) ? ((c >>> 1) ^ 0x82F63B78) >>> 0 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();
function crc32cUpdate(state, buf) {   /* state: raw register, start 0xFFFFFFFF */
  let c = state;
  for (let i = 0; i < buf.length; i++) c = (CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8)) >>> 0;
  return c >>> 0;
}
function crc32cBase64(state) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE((state ^ 0xFFFFFFFF) >>> 0);
  return b.toString('base64');
}

/* ---------- GCS-style errors ---------- */
function sendJson(res, status, obj, headers) {
  const body = Buffer.from(JSON.stringify(obj, null, 1));
  res.writeHead(status, Object.assign({ 'Content-Type': 'application/json; charset=UTF-8',
    'Content-Length': body.length }, headers || {}));
  res.end(body);
}
function sendError(res, status, reason, message, extra, headers) {
  const e = Object.assign({ message, domain: 'global', reason }, extra || {});
  sendJson(res, status, { error: { code: status, message, errors: [e] } }, headers);
}
function sendText(res, status, text, headers) {
  const body = Buffer.from(text);
  res.writeHead(status, Object.assign({ 'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': body.length }, headers || {}));
  res.end(body);
}
function oauthError(res, status, error, description) {
  sendJson(res, status, { error, error_description: description });
}

/* ---------- state ---------- */
class Fake {
  constructor(opts) {
    this.opts = opts;
    this.publicKey = crypto.createPublicKey(fs.readFileSync(opts.publicKey));
    this.buckets = new Map();      /* name -> {meta, objects: Map(name -> rec)} */
    this.tokens = new Map();       /* token -> {expires, scopes} */
    this.sessions = new Map();     /* upload_id -> session */
    this.faults = [];
    this.log = [];
    this.stats = { tokenRequests: 0, tokensIssued: 0, metadataTokens: 0, requests: 0 };
    this.genCounter = 0;
    fs.mkdirSync(path.join(opts.dir, 'objects'), { recursive: true });
    fs.mkdirSync(path.join(opts.dir, 'sessions'), { recursive: true });
    for (const b of opts.buckets) this.createBucket(b);
  }

  createBucket(name) {
    const now = new Date().toISOString();
    const meta = { kind: 'storage#bucket', id: name, name, projectNumber: '123456789012',
      metageneration: '1', location: 'US', storageClass: 'STANDARD', etag: 'CAE=',
      timeCreated: now, updated: now };
    this.buckets.set(name, { meta, objects: new Map() });
    fs.mkdirSync(path.join(this.opts.dir, 'objects', Buffer.from(name).toString('hex')), { recursive: true });
  }

  nextGeneration() {
    /* GCS generations are microsecond timestamps; keep them strictly increasing */
    const g = Date.now() * 1000 + (this.genCounter++ % 1000);
    return String(g);
  }

  takeFault(kind) {
    const i = this.faults.findIndex(f => f.kind === kind);
    if (i < 0) return null;
    const f = this.faults[i];
    f.count = (f.count || 1) - 1;
    if (f.count <= 0) this.faults.splice(i, 1);
    return f;
  }

  /* Stores a finished object from a file we wrote; returns its record. */
  commitObject(bucket, name, tmpFile, size, md5b64, crc, contentType, base) {
    const b = this.buckets.get(bucket);
    const gen = this.nextGeneration();
    const file = path.join(this.opts.dir, 'objects', Buffer.from(bucket).toString('hex'),
      crypto.createHash('sha256').update(name).digest('hex') + '-' + gen);
    fs.renameSync(tmpFile, file);
    const old = b.objects.get(name);
    if (old) fs.rmSync(old.file, { force: true });
    const now = new Date().toISOString();
    const etagBytes = Buffer.alloc(10);
    etagBytes.writeBigUInt64BE(BigInt(gen));
    etagBytes.writeUInt16BE(1, 8);
    let md5 = md5b64;
    const bad = this.takeFault('wrong_md5');
    if (bad) md5 = crypto.createHash('md5').update('not the data').digest('base64');
    const rec = { bucket, name, file, size, md5, crc32c: crc32cBase64(crc), generation: gen,
      contentType: contentType || 'application/octet-stream', created: now, updated: now,
      etag: etagBytes.toString('base64') };
    b.objects.set(name, rec);
    return rec;
  }
}

function objectJson(rec, base) {
  const enc = encodeURIComponent(rec.name);
  return {
    kind: 'storage#object',
    id: `${rec.bucket}/${rec.name}/${rec.generation}`,
    selfLink: `${base}/storage/v1/b/${rec.bucket}/o/${enc}`,
    mediaLink: `${base}/download/storage/v1/b/${rec.bucket}/o/${enc}?generation=${rec.generation}&alt=media`,
    name: rec.name,
    bucket: rec.bucket,
    generation: rec.generation,
    metageneration: '1',
    contentType: rec.contentType,
    storageClass: 'STANDARD',
    size: String(rec.size),
    md5Hash: rec.md5,
    crc32c: rec.crc32c,
    etag: rec.etag,
    timeCreated: rec.created,
    updated: rec.updated,
    timeStorageClassUpdated: rec.created,
  };
}

/* ---------- helpers ---------- */
function b64urlDecode(s) {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Error('bad base64url');
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let len = 0;
    req.on('data', c => {
      len += c.length;
      if (len > MAX_BODY) { reject(Object.assign(new Error('body too large'), { tooLarge: true })); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseXGoogHash(h) {
  const out = {};
  if (!h) return out;
  for (const part of String(h).split(',')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    out[part.slice(0, i).trim().toLowerCase()] = part.slice(i + 1).trim();
  }
  return out;
}

/* Returns null when the hashes agree, else [field, provided, calculated]. */
function checkHashes(provided, md5b64, crc) {
  if (provided.md5 && provided.md5 !== md5b64) return ['MD5 hash', provided.md5, md5b64];
  if (provided.crc32c && provided.crc32c !== crc32cBase64(crc)) return ['CRC32C', provided.crc32c, crc32cBase64(crc)];
  return null;
}
function hashMismatch(res, m) {
  const label = m[0] === 'MD5 hash' ? 'MD5 hash' : 'CRC32C';
  sendError(res, 400, 'invalid', `Provided ${label} "${m[1]}" doesn't match calculated ${label} "${m[2]}".`);
}

function byteCompare(a, b) { return Buffer.compare(Buffer.from(a), Buffer.from(b)); }

function baseUrl(req) { return `http://${req.headers.host || '127.0.0.1'}`; }

/* ---------- auth ---------- */
function verifyJwt(fake, jwt) {
  const parts = String(jwt).split('.');
  if (parts.length !== 3) return { error: 'Invalid JWT: malformed' };
  let header, claims;
  try {
    header = JSON.parse(b64urlDecode(parts[0]).toString('utf8'));
    claims = JSON.parse(b64urlDecode(parts[1]).toString('utf8'));
  } catch (e) { return { error: 'Invalid JWT: malformed' }; }
  if (header.alg !== 'RS256') return { error: 'Invalid JWT: unsupported algorithm' };
  if (header.typ !== undefined && header.typ !== 'JWT') return { error: 'Invalid JWT: bad typ' };
  let ok = false;
  try {
    ok = crypto.verify('sha256', Buffer.from(parts[0] + '.' + parts[1]), fake.publicKey, b64urlDecode(parts[2]));
  } catch (e) { ok = false; }
  if (!ok) return { error: 'Invalid JWT Signature.' };
  return { header, claims };
}

function checkTimes(claims) {
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number' ||
      claims.exp - claims.iat > 3600 || claims.exp <= claims.iat ||
      claims.iat > now + 300 || claims.exp < now - 300)
    return 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.';
  return null;
}

async function handleToken(fake, req, res) {
  fake.stats.tokenRequests++;
  if (req.method !== 'POST') return oauthError(res, 405, 'invalid_request', 'Method not allowed');
  const ctype = String(req.headers['content-type'] || '');
  if (!ctype.startsWith('application/x-www-form-urlencoded'))
    return oauthError(res, 400, 'invalid_request', 'Invalid Content-Type');
  const body = await readBody(req);
  const form = new URLSearchParams(body.toString('utf8'));
  const grant = form.get('grant_type');
  if (grant !== JWT_GRANT) return oauthError(res, 400, 'unsupported_grant_type', `Invalid grant_type: ${grant || ''}`);
  const assertion = form.get('assertion');
  if (!assertion) return oauthError(res, 400, 'invalid_request', 'Missing required parameter: assertion');
  const v = verifyJwt(fake, assertion);
  if (v.error) return oauthError(res, 400, 'invalid_grant', v.error);
  const c = v.claims;
  if (c.iss !== fake.opts.clientEmail) return oauthError(res, 400, 'invalid_grant', 'Invalid grant: account not found');
  const ownUrl = `${baseUrl(req)}/token`;
  if (c.aud !== ownUrl && c.aud !== GOOGLE_TOKEN_URL)
    return oauthError(res, 400, 'invalid_grant', `Invalid JWT: Failed audience check. The right audience is ${ownUrl}`);
  const t = checkTimes(c);
  if (t) return oauthError(res, 400, 'invalid_grant', t);
  const scopes = String(c.scope || '').split(/\s+/).filter(Boolean);
  if (!scopes.some(s => SCOPE_RW.includes(s) || SCOPE_RO.includes(s)))
    return oauthError(res, 400, 'invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
  issueToken(fake, res, scopes);
}

function issueToken(fake, res, scopes) {
  const token = 'ya29.fake-' + crypto.randomBytes(24).toString('hex');
  fake.tokens.set(token, { expires: Date.now() + fake.opts.tokenTtl * 1000, scopes });
  fake.stats.tokensIssued++;
  sendJson(res, 200, { access_token: token, expires_in: fake.opts.tokenTtl, token_type: 'Bearer' },
    { 'Cache-Control': 'no-cache, no-store, max-age=0, must-revalidate' });
}

function handleMetadataToken(fake, req, res) {
  if (req.headers['metadata-flavor'] !== 'Google' || req.headers['x-forwarded-for'])
    return sendText(res, 403, 'Missing Metadata-Flavor:Google header.\n');
  if (req.method !== 'GET') return sendText(res, 405, 'Method not allowed\n');
  fake.stats.metadataTokens++;
  issueToken(fake, res, ['https://www.googleapis.com/auth/cloud-platform']);
}

const WWW_AUTH = { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' };

/* Returns the token's scopes, or null after answering 401. */
function authenticate(fake, req, res, permission) {
  if (fake.takeFault('revoke_tokens')) fake.tokens.clear();
  const h = req.headers.authorization;
  if (!h) {
    const msg = `Anonymous caller does not have ${permission} access to the Google Cloud Storage object. ` +
      `Permission '${permission}' denied on resource (or it may not exist).`;
    sendError(res, 401, 'required', msg, { locationType: 'header', location: 'Authorization' }, WWW_AUTH);
    return null;
  }
  const m = /^Bearer (\S+)$/.exec(h);
  let scopes = null;
  if (m) {
    const t = fake.tokens.get(m[1]);
    if (t && t.expires > Date.now()) scopes = t.scopes;
    else if (!t && m[1].split('.').length === 3) {
      /* self-signed JWT (what google-auth-library sends without user scopes) */
      const v = verifyJwt(fake, m[1]);
      if (!v.error && v.claims.iss === fake.opts.clientEmail && !checkTimes(v.claims) &&
          (v.claims.aud === 'https://storage.googleapis.com/' || v.claims.scope))
        scopes = v.claims.scope ? String(v.claims.scope).split(/\s+/) : [SCOPE_RW[1]];
    }
  }
  if (!scopes) {
    sendError(res, 401, 'authError', 'Invalid Credentials', { locationType: 'header', location: 'Authorization' }, WWW_AUTH);
    return null;
  }
  return scopes;
}

function needWrite(scopes, res) {
  if (scopes.some(s => SCOPE_RW.includes(s))) return true;
  sendError(res, 403, 'insufficientPermissions', 'Insufficient Permission');
  return false;
}

/* ---------- objects ---------- */
function getBucket(fake, res, name) {
  const b = fake.buckets.get(name);
  if (!b) sendError(res, 404, 'notFound', 'The specified bucket does not exist.');
  return b;
}

function parseRange(h, size) {
  const m = /^bytes=(\d*)-(\d*)$/.exec(String(h).trim());
  if (!m || (m[1] === '' && m[2] === '')) return { ignore: true };
  let start, end;
  if (m[1] === '') {            /* suffix */
    const n = Number(m[2]);
    start = Math.max(0, size - n); end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return { ignore: true };
  }
  if (start >= size) return { unsatisfiable: true };
  return { start, end };
}

function sendMedia(fake, req, res, rec) {
  const headers = {
    'Content-Type': rec.contentType,
    'ETag': rec.etag,
    'Last-Modified': new Date(rec.updated).toUTCString(),
    'x-goog-generation': rec.generation,
    'x-goog-metageneration': '1',
    'x-goog-stored-content-encoding': 'identity',
    'x-goog-stored-content-length': String(rec.size),
    'x-goog-hash': [`crc32c=${rec.crc32c}`, `md5=${rec.md5}`],   /* two header lines, as GCS sends them */
    'x-goog-storage-class': 'STANDARD',
    'Accept-Ranges': 'bytes',
  };
  let start = 0, end = rec.size - 1, status = 200;
  if (req.headers.range) {
    const r = parseRange(req.headers.range, rec.size);
    if (r.unsatisfiable) {
      return sendError(res, 416, 'requestedRangeNotSatisfiable', 'Request range not satisfiable',
        undefined, { 'Content-Range': `bytes */${rec.size}` });
    }
    if (!r.ignore) { start = r.start; end = r.end; status = 206; headers['Content-Range'] = `bytes ${start}-${end}/${rec.size}`; }
  }
  headers['Content-Length'] = String(rec.size === 0 ? 0 : end - start + 1);
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || rec.size === 0) return res.end();
  if (fake.takeFault('flip_download')) {     /* bit rot in transit: same headers, one byte changed */
    const buf = Buffer.alloc(end - start + 1);
    const fd = fs.openSync(rec.file, 'r');
    fs.readSync(fd, buf, 0, buf.length, start);
    fs.closeSync(fd);
    buf[0] ^= 0x01;
    return res.end(buf);
  }
  const f = fake.takeFault('drop_download');
  const stream = fs.createReadStream(rec.file, { start, end });
  if (f) {
    let sent = 0;
    const limit = f.after_bytes || 0;
    stream.on('data', chunk => {
      if (sent + chunk.length >= limit) {
        res.write(chunk.subarray(0, Math.max(0, limit - sent)));
        stream.destroy();
        setImmediate(() => res.socket && res.socket.destroy());
        sent = limit;
        return;
      }
      sent += chunk.length;
      res.write(chunk);
    });
    return;
  }
  stream.pipe(res);
}

function handleObject(fake, req, res, url, bucketName, objName) {
  const write = req.method === 'DELETE';
  const scopes = authenticate(fake, req, res, write ? 'storage.objects.delete' : 'storage.objects.get');
  if (!scopes) return;
  if (write && !needWrite(scopes, res)) return;
  const b = getBucket(fake, res, bucketName);
  if (!b) return;
  const rec = b.objects.get(objName);
  if (!rec) return sendError(res, 404, 'notFound', `No such object: ${bucketName}/${objName}`);
  if (req.method === 'DELETE') {
    b.objects.delete(objName);
    fs.rmSync(rec.file, { force: true });
    res.writeHead(204, { 'Content-Length': 0 });
    return res.end();
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'methodNotAllowed', 'Method not allowed');
  if (url.searchParams.get('alt') === 'media' || url.pathname.startsWith('/download/')) return sendMedia(fake, req, res, rec);
  return sendJson(res, 200, objectJson(rec, baseUrl(req)));
}

function handleList(fake, req, res, url, bucketName) {
  const scopes = authenticate(fake, req, res, 'storage.objects.list');
  if (!scopes) return;
  const b = getBucket(fake, res, bucketName);
  if (!b) return;
  const prefix = url.searchParams.get('prefix') || '';
  const delimiter = url.searchParams.get('delimiter') || '';
  let max = 1000;
  if (url.searchParams.has('maxResults')) {
    const m = Number(url.searchParams.get('maxResults'));
    if (!Number.isInteger(m) || m < 0)
      return sendError(res, 400, 'invalid', `Invalid unsigned integer value: '${url.searchParams.get('maxResults')}'.`);
    if (m > 0 && m < 1000) max = m;
  }
  let after = null;
  const tok = url.searchParams.get('pageToken');
  if (tok) {
    try { after = JSON.parse(Buffer.from(tok, 'base64').toString('utf8')); } catch (e) { after = null; }
    if (!after || typeof after.k !== 'string') return sendError(res, 400, 'invalid', 'Invalid page token');
  }
  const names = [...b.objects.keys()].filter(n => n.startsWith(prefix)).sort(byteCompare);
  const items = [], prefixes = [];
  let count = 0, last = null, more = false;
  for (const n of names) {
    if (after) {
      if (byteCompare(n, after.k) <= 0) continue;
      if (after.p && n.startsWith(after.k)) continue;
    }
    let p = null;
    if (delimiter) {
      const i = n.indexOf(delimiter, prefix.length);
      if (i >= 0) p = n.slice(0, i + delimiter.length);
    }
    if (p !== null && last && last.p && last.k === p) continue;
    if (count === max) { more = true; break; }
    if (p !== null) { prefixes.push(p); last = { k: p, p: true }; }
    else { items.push(objectJson(b.objects.get(n), baseUrl(req))); last = { k: n, p: false }; }
    count++;
  }
  const out = { kind: 'storage#objects' };
  if (more) out.nextPageToken = Buffer.from(JSON.stringify(last)).toString('base64');
  if (prefixes.length) out.prefixes = prefixes;
  if (items.length) out.items = items;
  sendJson(res, 200, out);
}

function tmpPath(fake) {
  return path.join(fake.opts.dir, 'sessions', crypto.randomBytes(12).toString('hex'));
}

function writeSimpleObject(fake, req, res, bucketName, name, data, contentType, provided) {
  const md5 = crypto.createHash('md5').update(data).digest('base64');
  const crc = crc32cUpdate(0xFFFFFFFF, data);
  const m = checkHashes(provided, md5, crc);
  if (m) return hashMismatch(res, m);
  const b = fake.buckets.get(bucketName);
  const pre = req.ifGenerationMatch;
  if (pre !== null && pre !== undefined) {
    const cur = b.objects.get(name);
    if ((pre === '0' && cur) || (pre !== '0' && (!cur || cur.generation !== pre)))
      return sendError(res, 412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.',
        { locationType: 'header', location: 'If-Match' });
  }
  const tmp = tmpPath(fake);
  fs.writeFileSync(tmp, data);
  const rec = fake.commitObject(bucketName, name, tmp, data.length, md5, crc, contentType, baseUrl(req));
  sendJson(res, 200, objectJson(rec, baseUrl(req)));
}

function parseMultipart(body, ctype) {
  const m = /boundary=("?)([^";]+)\1/i.exec(ctype);
  if (!m) return null;
  const delim = Buffer.from('--' + m[2]);
  const parts = [];
  let pos = body.indexOf(delim);
  if (pos < 0) return null;
  for (;;) {
    pos += delim.length;
    if (body.subarray(pos, pos + 2).toString() === '--') break;
    if (body.subarray(pos, pos + 2).toString() === '\r\n') pos += 2;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), pos);
    if (next < 0) return null;
    const part = body.subarray(pos, next);
    const sep = part.indexOf('\r\n\r\n');
    if (sep < 0) return null;
    const headers = {};
    for (const line of part.subarray(0, sep).toString('utf8').split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    parts.push({ headers, body: part.subarray(sep + 4) });
    pos = next + 2;
  }
  return parts;
}

async function handleUploadPost(fake, req, res, url, bucketName) {
  const scopes = authenticate(fake, req, res, 'storage.objects.create');
  if (!scopes) return;
  if (!needWrite(scopes, res)) return;
  if (!getBucket(fake, res, bucketName)) return;
  const type = url.searchParams.get('uploadType');
  const body = await readBody(req);
  req.ifGenerationMatch = url.searchParams.get('ifGenerationMatch');
  const provided = parseXGoogHash(req.headers['x-goog-hash']);
  if (type === 'media') {
    const name = url.searchParams.get('name');
    if (!name) return sendError(res, 400, 'required', 'Required');
    return writeSimpleObject(fake, req, res, bucketName, name, body, req.headers['content-type'], provided);
  }
  if (type === 'multipart') {
    const parts = parseMultipart(body, String(req.headers['content-type'] || ''));
    if (!parts || parts.length !== 2)
      return sendError(res, 400, 'badContent', 'Invalid multipart request with 0 mime parts.');
    let meta;
    try { meta = JSON.parse(parts[0].body.toString('utf8') || '{}'); } catch (e) {
      return sendError(res, 400, 'parseError', 'Parse Error');
    }
    const name = meta.name || url.searchParams.get('name');
    if (!name) return sendError(res, 400, 'required', 'Required');
    if (meta.md5Hash) provided.md5 = meta.md5Hash;
    if (meta.crc32c) provided.crc32c = meta.crc32c;
    return writeSimpleObject(fake, req, res, bucketName, name, parts[1].body,
      meta.contentType || parts[1].headers['content-type'], provided);
  }
  if (type === 'resumable') {
    let meta = {};
    if (body.length) {
      try { meta = JSON.parse(body.toString('utf8')); } catch (e) { return sendError(res, 400, 'parseError', 'Parse Error'); }
    }
    const qname = url.searchParams.get('name');
    if (qname && meta.name && qname !== meta.name)
      return sendError(res, 400, 'invalid', `Value '${meta.name}' in content does not agree with value '${qname}'.`);
    const name = qname || meta.name;
    if (!name) return sendError(res, 400, 'required', 'Required');
    const id = 'ADPycd' + crypto.randomBytes(30).toString('base64url');
    const xlen = req.headers['x-upload-content-length'];
    const s = { id, bucket: bucketName, name, state: 'active', committed: 0, file: tmpPath(fake),
      md5: crypto.createHash('md5'), crc: 0xFFFFFFFF,
      total: xlen !== undefined ? Number(xlen) : null,
      contentType: meta.contentType || req.headers['x-upload-content-type'] || 'application/octet-stream',
      ifGenerationMatch: req.ifGenerationMatch, expectMd5: meta.md5Hash, expectCrc: meta.crc32c, rec: null };
    fs.writeFileSync(s.file, Buffer.alloc(0));
    fake.sessions.set(id, s);
    const loc = `${baseUrl(req)}/upload/storage/v1/b/${encodeURIComponent(bucketName)}/o?uploadType=resumable` +
      `&name=${encodeURIComponent(name)}&upload_id=${id}`;
    res.writeHead(200, { Location: loc, 'X-GUploader-UploadID': id, 'Content-Length': 0 });
    return res.end();
  }
  return sendError(res, 400, 'invalidParameter', `Invalid value for UploadType: ${type || ''}`);
}

function rangeHeader(s) { return s.committed > 0 ? { Range: `bytes=0-${s.committed - 1}` } : {}; }

function finalizeSession(fake, req, res, s, provided) {
  const md5 = s.md5.copy().digest('base64');
  const want = Object.assign({}, provided);
  if (!want.md5 && s.expectMd5) want.md5 = s.expectMd5;
  if (!want.crc32c && s.expectCrc) want.crc32c = s.expectCrc;
  const m = checkHashes(want, md5, s.crc);
  if (m) {
    s.state = 'failed';
    fs.rmSync(s.file, { force: true });
    return hashMismatch(res, m);
  }
  const b = fake.buckets.get(s.bucket);
  const pre = s.ifGenerationMatch;
  if (pre !== null && pre !== undefined) {
    const cur = b.objects.get(s.name);
    if ((pre === '0' && cur) || (pre !== '0' && (!cur || cur.generation !== pre))) {
      s.state = 'failed';
      return sendError(res, 412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.');
    }
  }
  s.rec = fake.commitObject(s.bucket, s.name, s.file, s.committed, md5, s.crc, s.contentType, baseUrl(req));
  s.state = 'final';
  sendJson(res, 200, objectJson(s.rec, baseUrl(req)));
}

async function handleUploadSession(fake, req, res, url) {
  const s = fake.sessions.get(url.searchParams.get('upload_id'));
  const body = await readBody(req);
  if (!s || s.state === 'cancelled' || s.state === 'failed')
    return sendError(res, 404, 'notFound', 'No such upload session.');
  if (req.method === 'DELETE') {
    s.state = 'cancelled';
    fs.rmSync(s.file, { force: true });
    res.writeHead(499, { 'Content-Length': 0 });
    return res.end();
  }
  if (req.method !== 'PUT' && req.method !== 'POST') return sendError(res, 405, 'methodNotAllowed', 'Method not allowed');
  if (s.state === 'final') return sendJson(res, 200, objectJson(s.rec, baseUrl(req)));
  const provided = parseXGoogHash(req.headers['x-goog-hash']);
  const cr = req.headers['content-range'];
  const fault503 = fake.takeFault('chunk_503');
  if (fault503) return sendError(res, 503, 'backendError', 'Backend Error');
  if (cr === undefined) {                     /* whole object in one PUT */
    if (s.committed !== 0) return sendError(res, 400, 'invalid', 'Invalid request. Content-Range header is required.');
    appendSession(s, body, 0);
    return finalizeSession(fake, req, res, s, provided);
  }
  let m = /^bytes \*\/(\*|\d+)$/.exec(cr);
  if (m) {                                    /* status query or finalize without data */
    if (body.length) return sendError(res, 400, 'invalid', 'Invalid request. Content-Range "bytes */" must not carry a body.');
    if (m[1] !== '*' && Number(m[1]) === s.committed) return finalizeSession(fake, req, res, s, provided);
    res.writeHead(308, Object.assign({ 'Content-Length': 0, 'X-GUploader-UploadID': s.id }, rangeHeader(s)));
    return res.end();
  }
  m = /^bytes (\d+)-(\d+|\*)\/(\*|\d+)$/.exec(cr);
  if (!m) return sendError(res, 400, 'invalid', `Invalid request. Failed to parse Content-Range header: ${cr}`);
  const start = Number(m[1]);
  if (m[2] !== '*' && Number(m[2]) - start + 1 !== body.length)
    return sendError(res, 400, 'invalid', `Invalid request. The Content-Range header ${cr} does not match the request body length ${body.length}.`);
  if (start > s.committed) {
    return sendText(res, 503, `Invalid request. According to the Content-Range header, the upload offset is ${start} byte(s), ` +
      `which exceeds already uploaded size of ${s.committed} byte(s).`);
  }
  const end = start + body.length;
  let total = m[3] === '*' ? (m[2] === '*' ? end : null) : Number(m[3]);
  if (total !== null && s.total !== null && total !== s.total)
    return sendError(res, 400, 'invalid', `Invalid request. The total size ${total} does not match X-Upload-Content-Length ${s.total}.`);
  if (total !== null && end > total)
    return sendError(res, 400, 'invalid', `Invalid request. The Content-Range end ${end - 1} exceeds the total size ${total}.`);
  const final = total !== null && end === total;
  if (!final && body.length % KIB256 !== 0) {
    if (body.length < KIB256)
      return sendError(res, 400, 'invalid', 'Invalid request. The number of bytes uploaded is required to be equal or greater than ' +
        `262144, except for the final request (it's recommended to be the exact multiple of 262144). The received request ` +
        `contained ${body.length} bytes, which does not meet this requirement.`);
    return sendError(res, 400, 'invalid', 'Invalid request. The number of bytes uploaded is required to be a multiple of ' +
      `262144, except for the final request. The received request contained ${body.length} bytes, which does not meet this requirement.`);
  }
  const drop = fake.takeFault('drop_chunk');
  if (drop) {
    const keep = Math.min(body.length, Math.max(0, drop.persist_bytes || 0));
    appendSession(s, body.subarray(0, keep), start);
    /* the connection dies in the middle of the reply body (with nothing at all received, curl
     * would silently resend the whole request on a new connection) */
    req.socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=UTF-8\r\n' +
      'Content-Length: 120\r\n\r\n{"error":');
    return;
  }
  appendSession(s, body, start);
  if (final) return finalizeSession(fake, req, res, s, provided);
  res.writeHead(308, Object.assign({ 'Content-Length': 0, 'X-GUploader-UploadID': s.id }, rangeHeader(s)));
  res.end();
}

/* Appends the bytes of data (which starts at offset start) not yet persisted. */
function appendSession(s, data, start) {
  const skip = s.committed - start;
  if (skip >= data.length) return;
  const fresh = data.subarray(Math.max(0, skip));
  fs.appendFileSync(s.file, fresh);
  s.md5.update(fresh);
  s.crc = crc32cUpdate(s.crc, fresh);
  s.committed += fresh.length;
}

async function handleBuckets(fake, req, res, url, bucketName) {
  const scopes = authenticate(fake, req, res, 'storage.buckets.get');
  if (!scopes) return;
  if (bucketName === null) {
    if (req.method !== 'POST') return sendError(res, 405, 'methodNotAllowed', 'Method not allowed');
    if (!needWrite(scopes, res)) return;
    let meta;
    try { meta = JSON.parse((await readBody(req)).toString('utf8')); } catch (e) { return sendError(res, 400, 'parseError', 'Parse Error'); }
    if (!meta.name) return sendError(res, 400, 'required', 'Required');
    if (fake.buckets.has(meta.name))
      return sendError(res, 409, 'conflict', 'Your previous request to create the named bucket succeeded and you already own it.');
    fake.createBucket(meta.name);
    return sendJson(res, 200, fake.buckets.get(meta.name).meta);
  }
  const b = getBucket(fake, res, bucketName);
  if (!b) return;
  sendJson(res, 200, b.meta);
}

/* ---------- test hooks ---------- */
async function handleFake(fake, req, res, url) {
  const what = url.pathname.slice('/_fake/'.length);
  if (what === 'faults' && req.method === 'POST') {
    const f = JSON.parse((await readBody(req)).toString('utf8'));
    for (const x of Array.isArray(f) ? f : [f]) fake.faults.push(x);
    return sendJson(res, 200, { faults: fake.faults });
  }
  if (what === 'faults' && req.method === 'DELETE') { fake.faults = []; return sendJson(res, 200, {}); }
  if (what === 'requests' && req.method === 'GET') return sendJson(res, 200, { requests: fake.log });
  if (what === 'requests' && req.method === 'DELETE') { fake.log = []; return sendJson(res, 200, {}); }
  if (what === 'stats') return sendJson(res, 200, fake.stats);
  if (what === 'tokens') return sendJson(res, 200, { tokens: [...fake.tokens.keys()] });   /* fake tokens, for leak checks */
  if (what === 'expire-tokens' && req.method === 'POST') { fake.tokens.clear(); return sendJson(res, 200, {}); }
  sendText(res, 404, 'Not Found\n');
}

/* ---------- routing ---------- */
async function route(fake, req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const p = url.pathname;
  fake.stats.requests++;
  const entry = { method: req.method, path: p, uploadType: url.searchParams.get('uploadType'),
    contentRange: req.headers['content-range'] || null, range: req.headers.range || null,
    contentLength: Number(req.headers['content-length'] || 0), status: null };
  if (!p.startsWith('/_fake/')) {
    fake.log.push(entry);
    if (fake.log.length > 2000) fake.log.shift();
  }
  res.on('finish', () => { entry.status = res.statusCode; });
  if (p === '/token') return handleToken(fake, req, res);
  if (p === '/computeMetadata/v1/instance/service-accounts/default/token') return handleMetadataToken(fake, req, res);
  if (p.startsWith('/_fake/')) return handleFake(fake, req, res, url);
  let m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(p);
  if (m) {
    if (url.searchParams.has('upload_id')) return handleUploadSession(fake, req, res, url);
    if (req.method !== 'POST') return sendError(res, 405, 'methodNotAllowed', 'Method not allowed');
    return handleUploadPost(fake, req, res, url, decodeURIComponent(m[1]));
  }
  m = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(p);
  if (m) {
    if (req.method !== 'GET') return sendError(res, 405, 'methodNotAllowed', 'Method not allowed');
    return handleList(fake, req, res, url, decodeURIComponent(m[1]));
  }
  m = /^\/(?:download\/)?storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(p);
  if (m) return handleObject(fake, req, res, url, decodeURIComponent(m[1]), decodeURIComponent(m[2]));
  if (p === '/storage/v1/b') return handleBuckets(fake, req, res, url, null);
  m = /^\/storage\/v1\/b\/([^/]+)$/.exec(p);
  if (m) return handleBuckets(fake, req, res, url, decodeURIComponent(m[1]));
  sendText(res, 404, 'Not Found\n');
}

function main() {
  let opts;
  try { opts = parseArgs(process.argv); } catch (e) { process.stderr.write(`fake-gcs: ${e.message}\n`); process.exit(2); }
  const fake = new Fake(opts);
  const server = http.createServer((req, res) => {
    route(fake, req, res).catch(e => {
      if (e && e.tooLarge) { if (!res.headersSent) sendError(res, 413, 'uploadTooLarge', 'Upload too large'); return; }
      process.stderr.write(`fake-gcs: internal error: ${e && e.stack}\n`);
      if (!res.headersSent) sendError(res, 500, 'backendError', 'Backend Error');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30000;
  server.listen(opts.port, opts.host, () => {
    process.stdout.write(`fake-gcs: listening on http://${opts.host}:${opts.port}\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
