/** The version of this package (`stack --version`), read from its package.json beside dist/ and src/. */
import { readFileSync } from "node:fs";

let cached: string | undefined;

export function cliVersion(): string {
  cached ??= (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string })
    .version;
  return cached;
}
