/**
 * Parser for a `SHA512SUMS` file as Debian publishes it (GNU coreutils
 * format): `<128 hex digits><space><space or *><file name>` per line. Blank
 * lines are skipped, the `*` binary marker is accepted, the BSD form
 * `SHA512 (name) = hex` too; anything else is an error naming its line.
 */
import { imageBuilderErrors } from "../errors-data.js";

const GNU_LINE = /^([0-9a-fA-F]{128}) [ *](.+)$/;
const BSD_LINE = /^SHA512 \((.+)\) = ([0-9a-fA-F]{128})$/;

/** Maps each file name to its lowercase hex SHA-512. Throws SHA512SUMS_MALFORMED naming every bad line. */
export function parseSha512Sums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trimEnd();
    if (line.trim() === "") return;
    const lineNumber = index + 1;
    let name: string | undefined;
    let hex: string | undefined;
    const gnu = GNU_LINE.exec(line);
    const bsd = gnu === null ? BSD_LINE.exec(line) : null;
    if (gnu !== null) {
      hex = gnu[1];
      name = gnu[2];
    } else if (bsd !== null) {
      name = bsd[1];
      hex = bsd[2];
    }
    if (name === undefined || hex === undefined || name.trim() === "") {
      const shown = line.length > 60 ? `${line.slice(0, 60)}...` : line;
      problems.push(`line ${lineNumber}: expected "<128 hex digits>  <file name>", got "${shown}"`);
      return;
    }
    const previous = sums.get(name);
    if (previous !== undefined && previous !== hex.toLowerCase()) {
      problems.push(`line ${lineNumber}: ${name} is listed twice with different digests`);
      return;
    }
    sums.set(name, hex.toLowerCase());
  });
  if (problems.length > 0) {
    throw imageBuilderErrors.create("SHA512SUMS_MALFORMED", `SHA512SUMS is malformed: ${problems.join("; ")}`, {
      details: { problems },
    });
  }
  return sums;
}
