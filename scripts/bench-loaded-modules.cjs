// Preloaded by `pnpm bench --only cli` (node --require): at exit, prints one JSON line on stderr with the number of
// modules node loaded (CommonJS and ES modules, seen through a load hook), the CommonJS files in node's module
// cache, and the npm packages they all come from.
const { _cache, registerHooks } = require("node:module");
const { fileURLToPath } = require("node:url");

const loaded = new Set();
registerHooks?.({
  load(url, context, nextLoad) {
    if (url.startsWith("file:")) loaded.add(fileURLToPath(url));
    return nextLoad(url, context);
  },
});

process.on("exit", () => {
  const files = Object.keys(_cache);
  for (const file of files) loaded.add(file);
  const packageOf = (file) => /.*node_modules\/(@[^/]+\/[^/]+|[^/]+)/.exec(file)?.[1];
  const packages = [...new Set([...loaded].map(packageOf).filter((name) => name !== undefined))].sort();
  process.stderr.write(`${JSON.stringify({ modules: loaded.size, files: files.length, packages })}\n`);
});
