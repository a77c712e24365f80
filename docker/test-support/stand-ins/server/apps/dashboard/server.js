// Stand-in of the dashboard (apps/dashboard/server.js in the server image).
// The real one throws "This project is not configured correctly" (500 on
// /handler/sign-in) without the internal project's id and keys and the API
// URL, which only the server entrypoint exports and inlines.
const { createServer } = require("node:http");

const API_URL = "STACK_ENV_VAR_SENTINEL_NEXT_PUBLIC_STACK_API_URL";
const problems = [];
for (const name of [
  "NEXT_PUBLIC_STACK_PROJECT_ID",
  "NEXT_PUBLIC_STACK_PUBLISHABLE_CLIENT_KEY",
  "STACK_SECRET_SERVER_KEY",
  "NEXT_PUBLIC_STACK_API_URL",
  "NEXT_PUBLIC_STACK_DASHBOARD_URL",
  "USE_INLINE_ENV_VARS",
]) {
  if (!process.env[name]) problems.push(`${name} is not set`);
}
if (API_URL.startsWith("STACK_ENV_VAR_SENTINEL")) problems.push("the build sentinels were not replaced");
if (problems.length) console.error(`dashboard (stand-in): CONTRACT VIOLATION: ${problems.join("; ")}`);
createServer((req, res) => {
  if (new URL(req.url, "http://x").pathname !== "/handler/sign-in") return res.writeHead(404).end("Not found");
  if (problems.length)
    return res.writeHead(500).end(`This project is not configured correctly: ${problems.join("; ")}`);
  res.writeHead(200, { "content-type": "text/html" }).end("<html><body>Sign in (stand-in)</body></html>");
}).listen(Number(process.env.PORT), process.env.HOSTNAME, () =>
  console.log(`dashboard (stand-in) on ${process.env.HOSTNAME}:${process.env.PORT}`),
);
