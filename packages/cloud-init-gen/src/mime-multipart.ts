/**
 * MIME multi-part user-data, for when one document is not enough: several
 * cloud-config parts (cloud-init merges them), shell scripts run once per
 * instance (`text/x-shellscript`) and boothooks run on every boot
 * (`text/cloud-boothook`).
 */
import { createHash } from "node:crypto";
import type { CloudConfig } from "./cloud-config.js";
import { cloudInitError } from "./errors-data.js";
import { renderUserData } from "./render-documents.js";

export type MimePart =
  | { readonly type: "text/cloud-config"; readonly content: CloudConfig | string; readonly filename?: string }
  | { readonly type: "text/x-shellscript"; readonly content: string; readonly filename?: string }
  | { readonly type: "text/cloud-boothook"; readonly content: string; readonly filename?: string };

export interface MultipartOptions {
  /**
   * The boundary. Default: derived from a hash of the parts, so the same
   * parts always give the same bytes (cacheable, snapshot-friendly).
   */
  readonly boundary?: string;
}

const BOUNDARY = /^[0-9A-Za-z'()+_,./:=?-]{1,70}$/;
const FILENAME = /^[A-Za-z0-9._-]{1,100}$/;

function partText(part: MimePart, index: number): string {
  if (part.type === "text/cloud-config") {
    if (typeof part.content !== "string") return renderUserData(part.content);
    if (!part.content.startsWith("#cloud-config"))
      throw cloudInitError(
        "INVALID_MIME_PART",
        `MIME part ${index} (text/cloud-config) does not start with #cloud-config`,
      );
    return part.content;
  }
  if (part.type === "text/x-shellscript" || part.type === "text/cloud-boothook") {
    const body = part.content.replace(/^#cloud-boothook\n/, "");
    if (!body.startsWith("#!"))
      throw cloudInitError("INVALID_MIME_PART", `MIME part ${index} (${part.type}) must start with a #! line`);
    return part.content;
  }
  throw cloudInitError(
    "INVALID_MIME_PART",
    `MIME part ${index} has unsupported type ${JSON.stringify((part as { type: unknown }).type)}`,
    {
      hint: "Use text/cloud-config, text/x-shellscript or text/cloud-boothook.",
    },
  );
}

/** 7bit when every line is short ASCII, else base64 (76-character lines). */
function encodeBody(text: string): { encoding: "7bit" | "base64"; body: string } {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: 7bit allows any ASCII except NUL
  if (/^[\x01-\x7f]*$/.test(text) && !/\r/.test(text) && text.split("\n").every((l) => l.length <= 998)) {
    // The line break before a boundary belongs to the boundary, so the text is kept whole.
    return { encoding: "7bit", body: text };
  }
  const b64 = Buffer.from(text, "utf8").toString("base64");
  return { encoding: "base64", body: b64.match(/.{1,76}/g)?.join("\n") ?? "" };
}

/** Renders the parts as one `multipart/mixed` user-data document. */
export function renderMultipart(parts: readonly MimePart[], options: MultipartOptions = {}): string {
  if (parts.length === 0) throw cloudInitError("INVALID_MIME_PART", "A multi-part document needs at least one part");
  const texts = parts.map((part, i) => {
    if (part.filename !== undefined && !FILENAME.test(part.filename))
      throw cloudInitError(
        "INVALID_MIME_PART",
        `MIME part ${i} has an unsafe file name ${JSON.stringify(part.filename)}`,
        {
          hint: "Use letters, digits, dots, dashes and underscores.",
        },
      );
    return encodeBody(partText(part, i));
  });
  const boundary =
    options.boundary ??
    `==cloud-init-gen-${createHash("sha256")
      .update(JSON.stringify(parts.map((p, i) => [p.type, p.filename ?? "", texts[i]?.body ?? ""])))
      .digest("hex")
      .slice(0, 32)}==`;
  if (!BOUNDARY.test(boundary))
    throw cloudInitError("INVALID_MIME_PART", `Invalid MIME boundary ${JSON.stringify(boundary)}`, {
      hint: "Use 1 to 70 letters, digits or '()+_,./:=?- characters.",
    });
  texts.forEach((t, i) => {
    if (t.body.includes(`--${boundary}`))
      throw cloudInitError("INVALID_MIME_PART", `MIME part ${i} contains the boundary ${JSON.stringify(boundary)}`);
  });
  const lines = [`Content-Type: multipart/mixed; boundary="${boundary}"`, "MIME-Version: 1.0", ""];
  parts.forEach((part, i) => {
    const t = texts[i]!;
    lines.push(
      `--${boundary}`,
      `Content-Type: ${part.type}; charset="utf-8"`,
      "MIME-Version: 1.0",
      `Content-Transfer-Encoding: ${t.encoding}`,
      `Content-Disposition: attachment; filename="${part.filename ?? `part-${String(i + 1).padStart(3, "0")}`}"`,
      "",
      t.body,
    );
  });
  lines.push(`--${boundary}--`, "");
  return lines.join("\n");
}
