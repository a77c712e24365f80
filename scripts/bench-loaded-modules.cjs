// Preloaded by `pnpm bench --only cli` (node --require): at exit, prints one JSON line on stderr with the number of
// modules node loaded (CommonJS and ES modules, seen through a load hook), the CommonJS files in node's module
// cache, and the npm packages whose code they hold. The `stack` bin is bundled (packages/cli/tsup.bin.config.ts): a
// loaded chunk's source map names the files bundled into it.
const { existsSync, readFileSync } = require("node:fs");
const { _cache, registerHooks } = require("node:module");
const { dirname, resolve } = require("node:path");
const { fileURLToPath } = require("node:url");

const loaded = new Set();
registerHooks?.({
  load(url, context, nextLoad) {
    if (url.startsWith("file:")) loaded.add(fileURLToPath(url));
    return nextLoad(url, context);
  },
});

/** The files bundled into `file`, from its source map; just `file` when it has none. */
function originsOf(file) {
  const map = `${file}.map`;
  if (!existsSync(map)) return [file];
  try {
    const sources = JSON.parse(readFileSync(map, "utf8")).sources ?? [];
    return sources.map((source) => resolve(dirname(file), source));
  } catch {
    return [file];
  }
}

process.on("exit", () => {
  const files = Object.keys(_cache);
  for (const file of files) loaded.add(file);
  const origins = [...loaded].flatMap(originsOf);
  const packageOf = (file) => /.*node_modules\/(@[^/]+\/[^/]+|[^/]+)/.exec(file)?.[1];
  const packages = [...new Set(origins.map(packageOf).filter((name) => name !== undefined))].sort();
  process.stderr.write(`${JSON.stringify({ modules: loaded.size, files: files.length, packages })}\n`);
});
