#!/usr/bin/env node
// An independent Azure Blob client for the tests, built on Microsoft's @azure/storage-blob SDK
// (not on our driver), so cross-checks compare two implementations of the REST API.
//
//   azblob-client.js mkcontainer CONTAINER
//   azblob-client.js put CONTAINER BLOB FILE [BLOCK_SIZE]   BLOCK_SIZE forces Put Block + Put Block List
//   azblob-client.js get CONTAINER BLOB FILE
//   azblob-client.js ls CONTAINER [PREFIX]                  prints "<size> <name>" per blob
//   azblob-client.js blocks CONTAINER BLOB                  prints the committed block count
//   azblob-client.js rm CONTAINER BLOB
//   azblob-client.js sas [HOURS]                            prints an account SAS (no leading '?')
//
// Credentials from AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_ACCESS_KEY, AZURE_STORAGE_ENDPOINT
// (default https://<account>.blob.core.windows.net). Exits 1 with the service's error code on
// failure. Never prints the key.
"use strict";
const fs = require("fs");
const path = require("path");
const sdk = require(path.join(__dirname, "..", "node_modules", "@azure", "storage-blob"));

function fail(msg) {
  process.stderr.write(`azblob-client: ${msg}\n`);
  process.exit(1);
}

const account = process.env.AZURE_STORAGE_ACCOUNT;
const key = process.env.AZURE_STORAGE_ACCESS_KEY;
if (!account || !key) fail("set AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_ACCESS_KEY");
const endpoint = (process.env.AZURE_STORAGE_ENDPOINT || `https://${account}.blob.core.windows.net`).replace(/\/+$/, "");
const cred = new sdk.StorageSharedKeyCredential(account, key);
const svc = new sdk.BlobServiceClient(endpoint, cred, { retryOptions: { maxTries: 2 } });

async function main(argv) {
  const [cmd, ...args] = argv;
  switch (cmd) {
    case "mkcontainer": {
      await svc.getContainerClient(args[0]).createIfNotExists();
      return;
    }
    case "put": {
      const [container, blob, file, blockSize] = args;
      const data = fs.readFileSync(file);
      const client = svc.getContainerClient(container).getBlockBlobClient(blob);
      if (blockSize) {
        const bs = Number(blockSize);
        await client.uploadData(data, { blockSize: bs, maxSingleShotSize: bs, concurrency: 4 });
      } else {
        await client.upload(data, data.length);
      }
      return;
    }
    case "get": {
      const [container, blob, file] = args;
      const buf = await svc.getContainerClient(container).getBlobClient(blob).downloadToBuffer();
      fs.writeFileSync(file, buf);
      return;
    }
    case "ls": {
      const [container, prefix] = args;
      for await (const b of svc.getContainerClient(container).listBlobsFlat({ prefix: prefix || undefined })) {
        process.stdout.write(`${b.properties.contentLength} ${b.name}\n`);
      }
      return;
    }
    case "blocks": {
      const [container, blob] = args;
      const list = await svc.getContainerClient(container).getBlockBlobClient(blob).getBlockList("committed");
      process.stdout.write(`${(list.committedBlocks || []).length}\n`);
      return;
    }
    case "rm": {
      const [container, blob] = args;
      await svc.getContainerClient(container).getBlobClient(blob).deleteIfExists();
      return;
    }
    case "sas": {
      const hours = Number(args[0] || 24);
      const sas = sdk.generateAccountSASQueryParameters({
        expiresOn: new Date(Date.now() + hours * 3600 * 1000),
        startsOn: new Date(Date.now() - 300 * 1000),
        permissions: sdk.AccountSASPermissions.parse("rwdlac"),
        services: sdk.AccountSASServices.parse("b").toString(),
        resourceTypes: sdk.AccountSASResourceTypes.parse("sco").toString(),
        protocol: sdk.SASProtocol.HttpsAndHttp,
        version: "2021-08-06",
      }, cred).toString();
      process.stdout.write(sas + "\n");
      return;
    }
    default:
      fail(`unknown command "${cmd}" (mkcontainer|put|get|ls|blocks|rm|sas)`);
  }
}

main(process.argv.slice(2)).catch((e) => {
  const code = e.code || (e.details && e.details.errorCode) || "";
  fail(`${e.statusCode || ""} ${code} ${String(e.message).split("\n")[0]}`.trim());
});
