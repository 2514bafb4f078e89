#!/usr/bin/env node
'use strict';
/*
 * A small HTTP proxy in front of s3rver that does what s3rver 3.7.1 does not: it verifies
 * every request's AWS Signature V4 (Authorization header) exactly as S3 does - canonical
 * request rebuilt from the incoming request, x-amz-content-sha256 checked against the body,
 * date skew, credential scope - and it checks Content-MD5 (400 BadDigest). Like Ceph RGW it
 * refuses DeleteObjects without Content-MD5 (400 InvalidRequest). It also plays STS
 * (AssumeRoleWithWebIdentity at POST /sts) and accepts the temporary keys it hands out.
 *
 * s3rver gaps handled here: no V4 signature check (s3rver only looks at the access key),
 * no Content-MD5 check, AbortMultipartUpload answers 405 (answered 204 here), only the
 * S3RVER access key is known (temporary keys are rewritten to it when forwarding).
 * Gaps left: multipart ETags are MD5 of the whole object (S3: MD5 of part MD5s + "-N"),
 * encoding-type=url is ignored, presigned (query) auth and aws-chunked bodies are refused.
 * Virtual-host requests to <bucket>.localhost:<port> are forwarded in path style.
 *
 * Test hooks (no auth): GET /__proxy/stats, POST /__proxy/config with JSON
 *   { "batchDelete501": bool, "corruptEtag": n, "stsDurationS": n, "resetStats": true }.
 * No dependencies beyond Node's standard library.
 */
const http = require('http');
const crypto = require('crypto');

function parseArgs(argv) {
  const opts = {
    listen: '127.0.0.1:4569', upstream: '127.0.0.1:4568', region: 'us-east-1',
    accessKey: 'S3RVER', secretKey: 'S3RVER', upstreamKey: 'S3RVER', webToken: null, verbose: false,
  };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--listen') opts.listen = next();
    else if (a === '--upstream') opts.upstream = next();
    else if (a === '--region') opts.region = next();
    else if (a === '--access-key') opts.accessKey = next();
    else if (a === '--secret-key') opts.secretKey = next();
    else if (a === '--upstream-key') opts.upstreamKey = next();
    else if (a === '--web-token') opts.webToken = next();
    else if (a === '--verbose') opts.verbose = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

const opts = parseArgs(process.argv);
const [listenHost, listenPort] = opts.listen.split(':');
const [upHost, upPort] = opts.upstream.split(':');
const state = { batchDelete501: false, corruptEtag: 0, stsDurationS: 3600 };
const stats = { requests: 0, rejected: 0, forwarded: 0, sts: 0, badDigest: 0, deleteObjects: 0, log: [] };
const tempKeys = new Map();   // access key -> { secret, token, expires (ms) }
const MAX_BODY = 256 * 1024 * 1024;

const xmlEscape = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }[c]));
const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();

function sendXml(res, status, root, fields) {
  const inner = Object.entries(fields).map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`).join('');
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<${root}>${inner}</${root}>`;
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function s3Error(res, status, code, message, extra = {}) {
  stats.rejected++;
  sendXml(res, status, 'Error', { Code: code, Message: message, ...extra, RequestId: crypto.randomBytes(8).toString('hex') });
  return false;
}

// RFC 3986 UriEncode over the percent-decoded bytes, as SigV4 canonicalisation wants it.
function percentDecode(text) {
  const out = [];
  const bytes = Buffer.from(text, 'utf8');
  const hex = (b) => /[0-9A-Fa-f]/.test(String.fromCharCode(b));
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x25 && i + 2 < bytes.length && hex(bytes[i + 1]) && hex(bytes[i + 2])) {
      out.push(parseInt(String.fromCharCode(bytes[i + 1], bytes[i + 2]), 16));
      i += 2;
    } else {
      out.push(bytes[i]);
    }
  }
  return Buffer.from(out);
}

function uriEncode(buf, keepSlash) {
  let s = '';
  for (const b of buf) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) s += c;
    else s += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return s;
}

function queryPairs(rawQuery) {
  return rawQuery.split('&').filter((p) => p.length > 0).map((p) => {
    const eq = p.indexOf('=');
    const name = eq < 0 ? p : p.slice(0, eq);
    const value = eq < 0 ? '' : p.slice(eq + 1);
    return [uriEncode(percentDecode(name), false), uriEncode(percentDecode(value), false)];
  });
}

function canonicalQuery(rawQuery) {
  const pairs = queryPairs(rawQuery);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function headerValues(req) {
  const map = new Map();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    const value = req.rawHeaders[i + 1].trim().replace(/\s+/g, ' ');
    map.set(name, map.has(name) ? `${map.get(name)},${value}` : value);
  }
  return map;
}

function parseAmzDate(text) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text || '');
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : NaN;
}

// Returns { ok: true, tempKey } or sends the S3 error and returns { ok: false }.
function verifySignature(req, res, path, rawQuery, body) {
  const auth = req.headers['authorization'];
  if (!auth) {
    if ('X-Amz-Algorithm' in Object.fromEntries(new URLSearchParams(rawQuery)))
      return { ok: s3Error(res, 501, 'NotImplemented', 'presigned URLs are not supported by this test proxy') };
    return { ok: s3Error(res, 403, 'AccessDenied', 'Anonymous access is not allowed') };
  }
  const m = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;\-]+),\s*Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m)
    return { ok: s3Error(res, 400, 'AuthorizationHeaderMalformed', 'The authorization header is malformed') };
  const [, accessKey, scopeDate, region, service, signedHeaders, signature] = m;
  let secret = null;
  let tempKey = null;
  if (accessKey === opts.accessKey) {
    secret = opts.secretKey;
  } else if (tempKeys.has(accessKey)) {
    tempKey = tempKeys.get(accessKey);
    secret = tempKey.secret;
  } else {
    return { ok: s3Error(res, 403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: accessKey }) };
  }
  if (tempKey) {
    if (req.headers['x-amz-security-token'] !== tempKey.token)
      return { ok: s3Error(res, 403, 'InvalidToken', 'The provided token is malformed or otherwise invalid.') };
    if (Date.now() >= tempKey.expires)
      return { ok: s3Error(res, 400, 'ExpiredToken', 'The provided token has expired.') };
  }
  const amzDate = req.headers['x-amz-date'];
  const t = parseAmzDate(amzDate);
  if (Number.isNaN(t))
    return { ok: s3Error(res, 403, 'AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header') };
  if (Math.abs(Date.now() - t) > 15 * 60 * 1000)
    return { ok: s3Error(res, 403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', { RequestTime: amzDate }) };
  if (scopeDate !== amzDate.slice(0, 8) || region !== opts.region || service !== 's3')
    return { ok: s3Error(res, 400, 'AuthorizationHeaderMalformed', `The authorization header is malformed; the credential scope ${scopeDate}/${region}/${service} is wrong; expecting ${amzDate.slice(0, 8)}/${opts.region}/s3`) };
  const names = signedHeaders.split(';');
  if (!names.includes('host'))
    return { ok: s3Error(res, 403, 'AccessDenied', 'SignedHeaders must include host') };
  const payloadHash = req.headers['x-amz-content-sha256'];
  if (!payloadHash)
    return { ok: s3Error(res, 400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256') };
  if (payloadHash.startsWith('STREAMING-'))
    return { ok: s3Error(res, 501, 'NotImplemented', `${payloadHash} bodies are not supported by this test proxy`) };
  if (payloadHash !== 'UNSIGNED-PAYLOAD') {
    if (!/^[0-9a-f]{64}$/.test(payloadHash))
      return { ok: s3Error(res, 400, 'InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a valid sha256 value.') };
    if (sha256(body) !== payloadHash)
      return { ok: s3Error(res, 400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", { ClientComputedContentSHA256: payloadHash, S3ComputedContentSHA256: sha256(body) }) };
  }
  const values = headerValues(req);
  const canonicalHeaders = names.map((n) => `${n}:${values.has(n) ? values.get(n) : ''}\n`).join('');
  const canonicalRequest = [req.method, uriEncode(percentDecode(path), true), canonicalQuery(rawQuery),
    canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${scopeDate}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  let key = hmac('AWS4' + secret, scopeDate);
  key = hmac(key, region);
  key = hmac(key, service);
  key = hmac(key, 'aws4_request');
  const expected = hmac(key, stringToSign).toString('hex');
  if (!crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(signature)))
    return { ok: s3Error(res, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', { AWSAccessKeyId: accessKey, StringToSign: stringToSign, CanonicalRequest: canonicalRequest }) };
  return { ok: true, tempKey };
}

function handleSts(req, res, body) {
  stats.sts++;
  const p = new URLSearchParams(body.toString('utf8'));
  const fail = (status, code, message) => {   // STS wraps <Error> in <ErrorResponse>
    stats.rejected++;
    const body3 = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>` +
      `<Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error>` +
      `<RequestId>${crypto.randomUUID()}</RequestId></ErrorResponse>`;
    res.writeHead(status, { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body3) });
    res.end(body3);
  };
  if (req.method !== 'POST' || p.get('Action') !== 'AssumeRoleWithWebIdentity' || p.get('Version') !== '2011-06-15')
    return fail(400, 'InvalidAction', 'only Action=AssumeRoleWithWebIdentity&Version=2011-06-15 is served here');
  if (!p.get('RoleArn') || !p.get('RoleArn').startsWith('arn:') || !p.get('RoleSessionName'))
    return fail(400, 'ValidationError', 'RoleArn and RoleSessionName are required');
  if (opts.webToken === null || p.get('WebIdentityToken') !== opts.webToken)
    return fail(400, 'InvalidIdentityToken', 'The web identity token that was passed could not be validated by AWS.');
  const duration = Number(p.get('DurationSeconds') || state.stsDurationS);
  const accessKey = 'ASIA' + crypto.randomBytes(8).toString('hex').toUpperCase();
  const secret = crypto.randomBytes(30).toString('base64');
  const token = crypto.randomBytes(96).toString('base64');
  const expires = Date.now() + duration * 1000;
  tempKeys.set(accessKey, { secret, token, expires });
  const body2 = `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:backups:backupd</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser><Arn>${xmlEscape(p.get('RoleArn'))}/${xmlEscape(p.get('RoleSessionName'))}</Arn><AssumedRoleId>AROATEST:${xmlEscape(p.get('RoleSessionName'))}</AssumedRoleId></AssumedRoleUser>
    <Credentials>
      <SessionToken>${token}</SessionToken>
      <SecretAccessKey>${secret}</SecretAccessKey>
      <Expiration>${new Date(expires).toISOString()}</Expiration>
      <AccessKeyId>${accessKey}</AccessKeyId>
    </Credentials>
    <Provider>oidc.example.test</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>${crypto.randomUUID()}</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`;
  res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body2) });
  res.end(body2);
}

function handleControl(req, res, path, body) {
  if (path === '/__proxy/stats') {
    const text = JSON.stringify({ ...stats, state, tempKeys: tempKeys.size });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(text);
  }
  if (path === '/__proxy/config' && req.method === 'POST') {
    const change = JSON.parse(body.toString('utf8') || '{}');
    if (change.resetStats) {
      Object.assign(stats, { requests: 0, rejected: 0, forwarded: 0, sts: 0, badDigest: 0, deleteObjects: 0, log: [] });
      delete change.resetStats;
    }
    Object.assign(state, change);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(JSON.stringify(state));
  }
  res.writeHead(404);
  return res.end();
}

function forward(req, res, body, tempKey, entry) {
  const headers = { ...req.headers, host: `${upHost}:${upPort}`, 'content-length': String(body.length) };
  delete headers['transfer-encoding'];
  delete headers['expect'];
  if (tempKey)   // s3rver knows only its own key; it does not check V4 signatures itself
    headers['authorization'] = headers['authorization'].replace(/Credential=[^/]+\//, `Credential=${opts.upstreamKey}/`);
  // virtual-host style ("bucket.localhost:port", which curl resolves to loopback) is turned
  // into path style for s3rver after the signature was checked on the original request
  let upPath = req.url;
  const vhost = /^([a-z0-9.-]+)\.localhost(:\d+)?$/.exec(req.headers['host'] || '');
  if (vhost) upPath = `/${vhost[1]}${req.url}`;
  const up = http.request({ host: upHost, port: Number(upPort), method: req.method, path: upPath, headers }, (upRes) => {
    const out = { ...upRes.headers };
    if (state.corruptEtag > 0 && req.method === 'PUT' && out['etag']) {
      state.corruptEtag--;
      out['etag'] = '"00000000000000000000000000000000"';
    }
    entry.status = upRes.statusCode;
    res.writeHead(upRes.statusCode, out);
    upRes.pipe(res);
  });
  up.on('error', (e) => s3Error(res, 502, 'BadGateway', `upstream s3rver: ${e.message}`));
  stats.forwarded++;
  up.end(body);
}

function handle(req, res, body) {
  const [path, rawQuery = ''] = req.url.split(/\?(.*)/s);
  if (path.startsWith('/__proxy/')) return handleControl(req, res, path, body);
  if (path === '/sts' || path === '/sts/') return handleSts(req, res, body);
  stats.requests++;
  const names = new Set(queryPairs(rawQuery).map(([k]) => k));
  const entry = { method: req.method, path, query: rawQuery, contentMd5: 'content-md5' in req.headers,
    signedHeaders: (/SignedHeaders=([^,]+)/.exec(req.headers['authorization'] || '') || [])[1] || '', status: 0 };
  stats.log.push(entry);
  if (stats.log.length > 500) stats.log.shift();
  const v = verifySignature(req, res, path, rawQuery, body);
  if (!v.ok) { entry.status = res.statusCode; return; }
  if ('content-md5' in req.headers) {
    const md5 = crypto.createHash('md5').update(body).digest('base64');
    const given = req.headers['content-md5'];
    if (!/^[A-Za-z0-9+/]{22}==$/.test(given)) { entry.status = 400; return s3Error(res, 400, 'InvalidDigest', 'The Content-MD5 you specified is not valid.'); }
    if (given !== md5) { stats.badDigest++; entry.status = 400; return s3Error(res, 400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.', { ExpectedDigest: given, CalculatedDigest: md5 }); }
  }
  if (req.method === 'POST' && names.has('delete')) {
    stats.deleteObjects++;
    if (state.batchDelete501) { entry.status = 501; return s3Error(res, 501, 'NotImplemented', 'A header you provided implies functionality that is not implemented'); }
    if (!('content-md5' in req.headers)) { entry.status = 400; return s3Error(res, 400, 'InvalidRequest', 'Missing required header for this request: Content-MD5'); }
  }
  if (req.method === 'DELETE' && names.has('uploadId')) {   // s3rver: 405; S3: 204
    entry.status = 204;
    res.writeHead(204);
    return res.end();
  }
  return forward(req, res, body, v.tempKey, entry);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) { req.destroy(); return; }
    chunks.push(c);
  });
  req.on('end', () => {
    try {
      handle(req, res, Buffer.concat(chunks));
    } catch (e) {
      s3Error(res, 500, 'InternalError', `proxy: ${e.message}`);
    }
    if (opts.verbose) process.stderr.write(`${req.method} ${req.url.split('?')[0]} -> ${res.statusCode}\n`);
  });
});
server.keepAliveTimeout = 30000;
server.listen(Number(listenPort), listenHost, () => {
  process.stdout.write(`sigv4-proxy listening on ${listenHost}:${listenPort}, upstream ${opts.upstream}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
