// Stand-in of the backend (apps/backend/server.js in the server image). It
// checks the environment the real backend reads (getEnvVariable throws on a
// missing required one) and that the entrypoint replaced the build sentinels,
// then serves /health (no database), /health?db=1 (the internal project must
// exist: "No project found" until the seed ran) and the cron endpoints
// (Bearer CRON_SECRET).
const { execFileSync } = require("node:child_process");
const { appendFileSync } = require("node:fs");
const { createServer } = require("node:http");

const fail = (message) => {
  console.error(`backend (stand-in): CONTRACT VIOLATION: ${message}`);
  process.exit(1);
};
const REQUIRED = [
  "STACK_DATABASE_CONNECTION_STRING",
  "STACK_SERVER_SECRET",
  "NEXT_PUBLIC_STACK_API_URL",
  "NEXT_PUBLIC_STACK_DASHBOARD_URL",
  "STACK_CLICKHOUSE_URL",
  "STACK_CLICKHOUSE_ADMIN_PASSWORD",
  "STACK_CLICKHOUSE_EXTERNAL_PASSWORD",
  "STACK_SVIX_SERVER_URL",
  "STACK_SVIX_API_KEY",
  "STACK_S3_REGION",
  "STACK_S3_ENDPOINT",
  "STACK_S3_BUCKET",
  "STACK_S3_ACCESS_KEY_ID",
  "STACK_S3_SECRET_ACCESS_KEY",
  "STACK_QSTASH_URL",
  "STACK_QSTASH_TOKEN",
  "STACK_QSTASH_CURRENT_SIGNING_KEY",
  "STACK_QSTASH_NEXT_SIGNING_KEY",
  "STACK_EMAIL_HOST",
  "STACK_EMAIL_PORT",
  "STACK_EMAIL_SENDER",
  "STACK_FREESTYLE_API_KEY",
  "STACK_FREESTYLE_API_ENDPOINT",
  "CRON_SECRET",
  "USE_INLINE_ENV_VARS",
  "NEXT_PUBLIC_STACK_PROJECT_ID",
];
for (const name of REQUIRED) if (!process.env[name]) fail(`environment variable ${name} must be set`);
// The renamed upstream throws when both spellings are set to different values.
for (const [name, value] of Object.entries(process.env)) {
  const m = /^((?:NEXT_PUBLIC_(?:BROWSER_|SERVER_)?)?)STACK_(.+)$/.exec(name);
  const other = m && process.env[`${m[1]}HEXCLAVE_${m[2]}`];
  if (other !== undefined && other !== null && other !== value) fail(`${name} and its HEXCLAVE_ spelling differ`);
}
const API_URL = "STACK_ENV_VAR_SENTINEL_NEXT_PUBLIC_STACK_API_URL";
if (API_URL.startsWith("STACK_ENV_VAR_SENTINEL"))
  fail("the build sentinels were not replaced (run through the entrypoint)");
if (API_URL !== process.env.NEXT_PUBLIC_STACK_API_URL)
  fail(`inlined API URL ${API_URL} is not NEXT_PUBLIC_STACK_API_URL`);

const db = process.env.STACK_DATABASE_CONNECTION_STRING;
// The real backend answers from its connection pool; a psql per request is slow on a loaded machine, so a found
// project is remembered for a few seconds.
let seenAt = 0;
const internalProject = () => {
  if (Date.now() - seenAt < 5_000) return true;
  try {
    const found =
      execFileSync("psql", [db, "-qAtc", `SELECT id FROM "Project" WHERE id = 'internal'`], {
        encoding: "utf8",
      }).trim() === "internal";
    if (found) seenAt = Date.now();
    return found;
  } catch {
    return false;
  }
};
const CRON = [
  "/api/latest/internal/email-queue-step",
  "/api/latest/internal/external-db-sync/sequencer",
  "/api/latest/internal/external-db-sync/poller",
];
const cronSeen = new Set();
createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (url.pathname === "/health") {
    if (url.searchParams.get("db") === "1" && !internalProject()) {
      res.writeHead(503).end("No project found");
      return;
    }
    res.writeHead(200).end("OK");
    return;
  }
  if (CRON.includes(url.pathname)) {
    if (req.headers.authorization !== `Bearer ${process.env.CRON_SECRET}`)
      return res.writeHead(401).end("Unauthorized");
    if (!cronSeen.has(url.pathname)) {
      cronSeen.add(url.pathname);
      appendFileSync(
        "/data/hexclave-stand-in/calls.jsonl",
        `${JSON.stringify({ program: "cron", path: url.pathname })}\n`,
      );
    }
    return res.writeHead(200).end("{}");
  }
  res.writeHead(404).end("Not found");
}).listen(Number(process.env.PORT), process.env.HOSTNAME, () =>
  console.log(`backend (stand-in) on ${process.env.HOSTNAME}:${process.env.PORT}`),
);
