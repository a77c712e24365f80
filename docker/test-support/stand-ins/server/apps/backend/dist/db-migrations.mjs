// Stand-in of the backend's self-host migration script (apps/backend/dist/db-migrations.mjs
// in the server image). Contract of the real one: a subcommand (`migrate` or
// `seed`; anything else prints "Unknown command." and exits 1); run from
// apps/backend (MIGRATION_FILES_DIR = cwd/prisma/migrations); the database in
// STACK_DATABASE_CONNECTION_STRING; `migrate` also runs the ClickHouse
// migrations as STACK_CLICKHOUSE_ADMIN_USER with its password, and needs
// STACK_CLICKHOUSE_EXTERNAL_PASSWORD; `seed` creates the internal project.
// Every call is appended to /data/hexclave-stand-in/calls.jsonl.
import { execFileSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const fail = (message) => {
  console.error(`db-migrations (stand-in): CONTRACT VIOLATION: ${message}`);
  process.exit(1);
};
const env = (name) => process.env[name] || fail(`environment variable ${name} must be set`);
const command = process.argv[2];
mkdirSync("/data/hexclave-stand-in", { recursive: true });
appendFileSync(
  "/data/hexclave-stand-in/calls.jsonl",
  `${JSON.stringify({ program: "db-migrations", args: process.argv.slice(2), cwd: process.cwd(), at: new Date().toISOString() })}\n`,
);
if (command !== "migrate" && command !== "seed") {
  console.error("Unknown command.");
  console.error(`db-migrations (stand-in): CONTRACT VIOLATION: subcommand ${JSON.stringify(command)} is not migrate or seed`);
  process.exit(1);
}
const migrations = join(process.cwd(), "prisma", "migrations");
if (!existsSync(migrations)) fail(`no migration files at ${migrations}: run it from apps/backend`);
const db = env("STACK_DATABASE_CONNECTION_STRING");
const psql = (sql) => execFileSync("psql", [db, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], { encoding: "utf8" });

if (command === "migrate") {
  psql(`CREATE TABLE IF NOT EXISTS "Project" (id text PRIMARY KEY, "displayName" text NOT NULL);
        CREATE TABLE IF NOT EXISTS "ApiKeySet" ("projectId" text NOT NULL REFERENCES "Project"(id), id uuid NOT NULL,
          "publishableClientKey" text, "secretServerKey" text, "superSecretAdminKey" text, PRIMARY KEY ("projectId", id))`);
  env("STACK_CLICKHOUSE_EXTERNAL_PASSWORD");
  const url = new URL(env("STACK_CLICKHOUSE_URL"));
  const user = process.env.STACK_CLICKHOUSE_ADMIN_USER || "stackframe";
  const res = await fetch(url, {
    method: "POST",
    headers: { "X-ClickHouse-User": user, "X-ClickHouse-Key": env("STACK_CLICKHOUSE_ADMIN_PASSWORD") },
    body: `CREATE TABLE IF NOT EXISTS ${process.env.STACK_CLICKHOUSE_DATABASE || "default"}.events (id String) ENGINE = MergeTree ORDER BY id`,
  }).catch((e) => fail(`ClickHouse at ${url} does not answer: ${e}`));
  if (!res.ok) fail(`ClickHouse refused the migration as ${user}: ${res.status} ${await res.text()}`);
  console.log("Migrations applied (stand-in).");
} else {
  const tables = psql(`SELECT count(*) FROM pg_tables WHERE tablename IN ('Project', 'ApiKeySet')`).trim();
  if (tables !== "2") fail("seed before migrate: the tables do not exist");
  psql(`INSERT INTO "Project" (id, "displayName") VALUES ('internal', 'Stack Dashboard') ON CONFLICT DO NOTHING`);
  console.log("Seeded the internal project (stand-in).");
}
