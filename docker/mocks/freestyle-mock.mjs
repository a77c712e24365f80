// Hexclave's freestyle mock (upstream runs one as `freestyle-mock` on 8180):
// the backend renders every email by sending a script to Freestyle's
// serverless API (`freestyle-sandboxes`: POST /execute/v1|v2/script with
// { script, config: { nodeModules, envVars } }, answer { result, logs }).
// Here the script runs in a child Node process on this machine: written to a
// fresh directory as a module whose default export is called; modules resolve
// from FREESTYLE_MOCK_NODE_PATH (the server image's node_modules).
// Port: PORT (8180). Health: GET /health.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

const port = Number(process.env.PORT ?? 8180);
const nodePath = process.env.FREESTYLE_MOCK_NODE_PATH ?? "/app/node_modules";
const RUNNER = `
const logs = [];
for (const type of ["log", "info", "warn", "error", "debug"]) console[type] = (...a) => logs.push({ message: a.map(String).join(" "), type });
const out = (v) => process.stdout.write("\\u0000" + JSON.stringify(v));
import(process.argv[2]).then(async (m) => {
  const result = typeof m.default === "function" ? await m.default() : m.default;
  out({ result, logs });
}).catch((e) => out({ error: String(e?.stack ?? e), logs }));
`;

async function run(script, config) {
  const dir = await mkdtemp(join(tmpdir(), "freestyle-"));
  try {
    await writeFile(join(dir, "script.mjs"), script);
    await writeFile(join(dir, "runner.mjs"), RUNNER);
    await symlink(nodePath, join(dir, "node_modules")).catch(() => {});
    await mkdir(join(dir, "tmp"));
    const env = { ...process.env, ...(config?.envVars ?? {}), NODE_PATH: nodePath };
    const stdout = await new Promise((resolve) =>
      execFile(
        process.execPath,
        [join(dir, "runner.mjs"), join(dir, "script.mjs")],
        { cwd: dir, env, timeout: 60_000, maxBuffer: 32 << 20 },
        (error, out, err) =>
          resolve(out.includes("\u0000") ? out : `\u0000${JSON.stringify({ error: String(error ?? err), logs: [] })}`),
      ),
    );
    return JSON.parse(stdout.slice(stdout.lastIndexOf("\u0000") + 1));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

createServer((req, res) => {
  const { pathname } = new URL(req.url ?? "/", "http://localhost");
  if (req.method === "GET" && pathname === "/health") return res.writeHead(200).end("ok");
  if (req.method !== "POST" || !/^\/execute\/v[12]\/script$/.test(pathname)) return res.writeHead(404).end("Not found");
  let body = "";
  req.on("data", (c) => {
    body += c;
  });
  req.on("end", async () => {
    let parsed;
    try {
      parsed = JSON.parse(body);
    } catch {
      return res.writeHead(400).end(JSON.stringify({ error: "body is not JSON" }));
    }
    if (typeof parsed.script !== "string")
      return res.writeHead(400).end(JSON.stringify({ error: "script must be a string" }));
    const answer = await run(parsed.script, parsed.config);
    res
      .writeHead(answer.error === undefined ? 200 : 500, { "content-type": "application/json" })
      .end(JSON.stringify(answer));
  });
}).listen(port, "127.0.0.1", () => process.stdout.write(`freestyle mock on 127.0.0.1:${port}\n`));
