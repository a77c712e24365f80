#!/usr/bin/env node
// Prints the channel pointer (emulator-<channel>.json) of a release directory.
// Thin wrapper over @hexclave/image-builder's channelPointerFromDir (build it first: pnpm build).
//
//   node scripts/release/channel-pointer.mjs --channel main --version emulator-main-20250101-0123abcd \
//     --base-url https://github.com/OWNER/REPO/releases/download/emulator-main-20250101-0123abcd --dir release
import { parseArgs } from "node:util";

const usage =
  "usage: channel-pointer.mjs --channel main|dev --version V --base-url URL --dir DIR [--published-at ISO-DATE]";

let values;
try {
  ({ values } = parseArgs({
    options: {
      channel: { type: "string" },
      version: { type: "string" },
      "base-url": { type: "string" },
      dir: { type: "string" },
      "published-at": { type: "string" },
    },
    strict: true,
  }));
} catch (error) {
  process.stderr.write(`${error.message}\n${usage}\n`);
  process.exit(2);
}
for (const name of ["channel", "version", "base-url", "dir"]) {
  if (values[name] === undefined || values[name] === "") {
    process.stderr.write(`missing --${name}\n${usage}\n`);
    process.exit(2);
  }
}

const { channelPointerFromDir } = await import(
  new URL("../../packages/image-builder/dist/release.js", import.meta.url).href
);
try {
  const pointer = await channelPointerFromDir({
    channel: values.channel,
    version: values.version,
    baseUrl: values["base-url"],
    dir: values.dir,
    ...(values["published-at"] === undefined ? {} : { publishedAt: values["published-at"] }),
  });
  process.stdout.write(`${JSON.stringify(pointer, null, 2)}\n`);
} catch (error) {
  process.stderr.write(`channel-pointer: ${error.message}\n${error.hint ? `hint: ${error.hint}\n` : ""}`);
  process.exit(1);
}
