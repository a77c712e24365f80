// Stand-in of the backend (apps/backend/server.js in the server image). It
// checks the environment the real backend reads (getEnvVariable throws on a
// missing required one) and that the entrypoint replaced the build sentinels,
// then serves /health (no database), /health?db=1 (the internal project must
// exist: "No project found" until the seed ran), the cron endpoints
// (Bearer CRON_SECRET) and the local emulator's config file (below).
const { execFileSync } = require("node:child_process");
const { appendFileSync } = require("node:fs");
const fs = require("node:fs/promises");
const { createServer } = require("node:http");
const path = require("node:path");

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

// The local emulator's stack.config.ts, read and written with the same plain file calls as upstream's
// apps/backend/src/lib/local-emulator.ts (resolveEmulatorPath, readConfigContent, writeConfigToFile):
// STACK_LOCAL_EMULATOR_HOST_MOUNT_ROOT joined with the file's absolute host path; a write first checks that the
// parent directory is there (upstream throws when it is not) and then fs.writeFile's the whole file in place. The
// real backend reaches these through its local-emulator project endpoints (jiti import, config rendering); this
// stand-in serves them bare at /stand-in/local-emulator/config?path=<absolute host path>, to the internal
// project's secret server key, so a test can drive the backend's own file paths.
const resolveEmulatorPath = (filePath) => {
  const root = process.env.STACK_LOCAL_EMULATOR_HOST_MOUNT_ROOT ?? "";
  return root ? path.join(root, filePath) : filePath;
};
const readBody = (req) =>
  new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf-8")));
    req.on("error", reject);
  });
async function configFile(req, res, url) {
  if (req.headers["x-stack-secret-server-key"] !== process.env.STACK_SECRET_SERVER_KEY)
    return res.writeHead(401).end("Unauthorized");
  const filePath = url.searchParams.get("path") ?? "";
  if (!path.isAbsolute(filePath)) return res.writeHead(400).end("path must be an absolute host path");
  const resolved = resolveEmulatorPath(filePath);
  if (req.method === "GET") {
    try {
      return res.writeHead(200, { "content-type": "text/plain" }).end(await fs.readFile(resolved, "utf-8"));
    } catch (e) {
      if (e?.code === "ENOENT") return res.writeHead(404).end(`no config file at ${resolved}`);
      throw e;
    }
  }
  if (req.method === "PUT") {
    const content = await readBody(req);
    const dir = path.dirname(resolved);
    try {
      await fs.access(dir);
    } catch {
      return res
        .writeHead(500)
        .end(
          `Local emulator host mount root is configured but the parent directory for ${filePath} is not available at ${dir}.`,
        );
    }
    await fs.writeFile(resolved, content, "utf-8");
    return res.writeHead(204).end();
  }
  return res.writeHead(405, { allow: "GET, PUT" }).end();
}

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
  if (url.pathname === "/stand-in/local-emulator/config") {
    configFile(req, res, url).catch((e) => res.writeHead(500).end(String(e)));
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
