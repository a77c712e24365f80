/** `--json`: exactly one JSON document on stdout, nothing else there. */
import type { OutputStream } from "../cli-io.js";

export function writeJson(stream: OutputStream, document: unknown): void {
  stream.write(`${JSON.stringify(document, null, 2)}\n`);
}
