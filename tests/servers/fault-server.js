// A scripted HTTP server for fault tests (no dependencies). Each path names a behaviour and a
// counter key, so a test can ask for "fail twice then succeed" and read back what it received:
//   GET  /status/<code>/<n>/<key>   answer <code> for the first n requests of <key>, then 200 "ok-<key>"
//                                   (429 and 503 carry Retry-After: 0)
//   GET  /cut/<n>/<key>             first n requests: promise 100000 bytes, send 30000, reset
//                                   later requests honour Range: bytes=a- with the rest
//   GET  /stall/<n>/<key>           first n requests: send headers + 10 bytes, then stall
//   PUT  /reset-put/<n>/<key>       first n requests: read the body, then reset the connection
//   GET  /count/<key>               number of requests seen for <key> and sha256 of the last PUT body
// Listens on 127.0.0.1:$PORT; prints "ready" once listening.
'use strict';
const http = require('http');
const crypto = require('crypto');
const counts = new Map();
const bodies = new Map();
const payload = Buffer.alloc(100000);
for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + 3) & 0xff;

function bump(key) { const n = (counts.get(key) || 0) + 1; counts.set(key, n); return n; }

const server = http.createServer((req, res) => {
  const parts = req.url.split('?')[0].split('/').filter(Boolean);
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const kind = parts[0];
    if (kind === 'count') {
      res.end(JSON.stringify({ count: counts.get(parts[1]) || 0, sha256: bodies.get(parts[1]) || '' }));
      return;
    }
    if (kind === 'status') {
      const [code, n, key] = [Number(parts[1]), Number(parts[2]), parts[3]];
      const seen = bump(key);
      if (seen <= n) {
        const headers = { 'Content-Type': 'application/xml' };
        if (code === 429 || code === 503) headers['Retry-After'] = '0';
        res.writeHead(code, headers);
        res.end(`<Error><Code>Injected${code}</Code><Message>injected failure ${seen}</Message></Error>`);
        return;
      }
      res.end(`ok-${key}`);
      return;
    }
    if (kind === 'cut') {
      const [n, key] = [Number(parts[1]), parts[2]];
      const seen = bump(key);
      let start = 0;
      const m = /bytes=(\d+)-/.exec(req.headers.range || '');
      if (m) start = Number(m[1]);
      if (seen <= n) {
        res.writeHead(m ? 206 : 200, { 'Content-Length': String(payload.length - start) });
        res.write(payload.subarray(start, start + 30000));
        setTimeout(() => res.socket.destroy(), 50);
        return;
      }
      res.writeHead(m ? 206 : 200, { 'Content-Length': String(payload.length - start) });
      res.end(payload.subarray(start));
      return;
    }
    if (kind === 'stall') {
      const [n, key] = [Number(parts[1]), parts[2]];
      const seen = bump(key);
      if (seen <= n) {
        res.writeHead(200, { 'Content-Length': '20' });
        res.write('0123456789');
        return; // never finishes; the client's stall timeout must fire
      }
      res.end('0123456789abcdefghij');
      return;
    }
    if (kind === 'reset-put') {
      const [n, key] = [Number(parts[1]), parts[2]];
      const seen = bump(key);
      if (seen <= n) { req.socket.destroy(); return; }
      bodies.set(key, crypto.createHash('sha256').update(body).digest('hex'));
      res.end('stored');
      return;
    }
    res.writeHead(404); res.end('no such behaviour');
  });
});
server.listen(Number(process.env.PORT || 4580), '127.0.0.1', () => console.log('ready'));
