// Preloaded by `pnpm bench --only cli` (node --require): at exit, prints one JSON line on stderr with the number of
// CommonJS files in node's module cache and the npm packages they come from.
const { _cache } = require("node:module");

process.on("exit", () => {
  const files = Object.keys(_cache);
  const packageOf = (file) => /.*node_modules\/(@[^/]+\/[^/]+|[^/]+)/.exec(file)?.[1];
  const packages = [...new Set(files.map(packageOf).filter((name) => name !== undefined))].sort();
  process.stderr.write(`${JSON.stringify({ files: files.length, packages })}\n`);
});
