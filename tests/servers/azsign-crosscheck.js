#!/usr/bin/env node
// Captures requests signed by @azure/storage-blob's own SharedKey policy, without sending them,
// so tests/unit/azure_sign_test.c can check our signer against the SDK: it prints, per request,
// the method, URL, every header the SDK sent, the body length and the Authorization it computed.
// Usage: node tests/servers/azsign-crosscheck.js   (no server needed; the azurite well-known key)
"use strict";
const path = require("path");
const { BlobServiceClient, StorageSharedKeyCredential } =
  require(path.join(__dirname, "..", "node_modules", "@azure", "storage-blob"));
const { HttpHeaders } =
  require(path.join(__dirname, "..", "node_modules", "@azure", "core-http-compat"));

const account = "devstoreaccount1";
const key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const captured = [];
const httpClient = {
  async sendRequest(req) {
    // the SDK hands custom clients its legacy WebResource shape (headers.rawHeaders())
    const headers = typeof req.headers.rawHeaders === "function" ? req.headers.rawHeaders()
      : Object.fromEntries(req.headers);
    const body = req.body;
    captured.push({ method: req.method, url: req.url, headers,
                    bodyLength: body == null ? 0 : (typeof body === "string" ? Buffer.byteLength(body) : body.length) });
    return { status: 201, headers: new HttpHeaders(), request: req, bodyAsText: "" };
  },
};

(async () => {
  const svc = new BlobServiceClient(`http://127.0.0.1:10000/${account}`,
    new StorageSharedKeyCredential(account, key), { httpClient, retryOptions: { maxTries: 1 } });
  const blob = svc.getContainerClient("backups").getBlockBlobClient("dir/file one.bin");
  const data = Buffer.from("hello");
  // an id whose base64 has '+', '/' and '=': the query must be decoded before signing
  const blockId = Buffer.from([0xfb, 0xef, 0xff, 0x61]).toString("base64");
  try {
    await blob.stageBlock(blockId, data, data.length,
      { transactionalContentMD5: require("crypto").createHash("md5").update(data).digest() });
  } catch (e) { if (captured.length === 0) throw e; /* the fake reply need not parse */ }
  try {
    await blob.download(100, 50);
  } catch (e) { if (captured.length < 2) throw e; }
  try {
    const it = svc.getContainerClient("backups").listBlobsByHierarchy("/", { prefix: "a b+c/" });
    await it.byPage({ maxPageSize: 1000 }).next();
  } catch (e) { if (captured.length < 3) throw e; }
  process.stdout.write(JSON.stringify(captured, null, 2) + "\n");
})();
