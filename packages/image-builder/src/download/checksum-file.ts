/**
 * One parser for checksum files in GNU coreutils format (`sha256sum`, `sha512sum` output): a release's
 * `SHA256SUMS` and Debian's `SHA512SUMS`. Per line `<hex digest><space><space or *><file name>`; blank lines are
 * skipped, the `*` binary marker is accepted, and so is the BSD form `SHA512 (name) = hex`. Anything else is an
 * error naming each bad line, with the caller's error code. Pure.
 */
import { type ImageBuilderErrorCode, imageBuilderErrors } from "../errors-data.js";
import type { DigestAlgorithm } from "./events.js";

const HEX_DIGITS: Readonly<Record<DigestAlgorithm, number>> = { sha256: 64, sha512: 128 };

export interface ChecksumFileOptions {
  readonly algorithm: DigestAlgorithm;
  /** What the file is called in error messages (`SHA256SUMS`, a URL). Default: `SHA256SUMS` or `SHA512SUMS`. */
  readonly source?: string;
  /** The error code thrown for a malformed file. */
  readonly errorCode: ImageBuilderErrorCode;
  /** Refuses a listed name (a release's files must be plain file names). */
  readonly isValidName?: (name: string) => boolean;
}

/** Maps each file name to its lowercase hex digest. Throws `errorCode` naming every bad line. */
export function parseChecksumFile(text: string, options: ChecksumFileOptions): Map<string, string> {
  const digits = HEX_DIGITS[options.algorithm];
  const tag = options.algorithm.toUpperCase();
  const source = options.source ?? `${tag}SUMS`;
  const gnuLine = new RegExp(`^([0-9a-fA-F]{${digits}}) [ *](.+)$`);
  const bsdLine = new RegExp(`^${tag} \\((.+)\\) = ([0-9a-fA-F]{${digits}})$`);
  const sums = new Map<string, string>();
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trimEnd();
    if (line.trim() === "") return;
    const lineNumber = index + 1;
    const gnu = gnuLine.exec(line);
    const bsd = gnu === null ? bsdLine.exec(line) : null;
    const hex = (gnu?.[1] ?? bsd?.[2])?.toLowerCase();
    const name = gnu?.[2] ?? bsd?.[1];
    if (name === undefined || hex === undefined || name.trim() === "") {
      const shown = line.length > 60 ? `${line.slice(0, 60)}...` : line;
      problems.push(`line ${lineNumber}: expected "<${digits} hex digits>  <file name>", got "${shown}"`);
      return;
    }
    if (options.isValidName !== undefined && !options.isValidName(name)) {
      problems.push(`line ${lineNumber}: ${JSON.stringify(name)} is not a plain file name`);
      return;
    }
    const previous = sums.get(name);
    if (previous !== undefined && previous !== hex) {
      problems.push(`line ${lineNumber}: ${name} is listed twice with different digests`);
      return;
    }
    sums.set(name, hex);
  });
  if (problems.length > 0) {
    throw imageBuilderErrors.create(options.errorCode, `${source} is malformed: ${problems.join("; ")}`, {
      details: { source, problems },
    });
  }
  return sums;
}
