// A real SDK consumer for tests/it/cli/credserver.rs: the AWS SDK for JavaScript v3 with its
// default credential chain calls STS GetCallerIdentity once a second for SECONDS, printing each
// ARN, and exits 1 on the first failure. Usage: node sts-loop.js SECONDS
"use strict";
const { STSClient, GetCallerIdentityCommand } = require("@aws-sdk/client-sts");

const seconds = Number(process.argv[2] || "60");
const client = new STSClient({});
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

(async () => {
  const end = Date.now() + seconds * 1000;
  let calls = 0;
  while (Date.now() < end) {
    const id = await client.send(new GetCallerIdentityCommand({}));
    calls += 1;
    console.log(id.Arn);
    await sleep(1000);
  }
  console.log(`calls ${calls}`);
})().catch((e) => {
  console.error(`js: ${e.name}: ${e.message}`);
  process.exit(1);
});
