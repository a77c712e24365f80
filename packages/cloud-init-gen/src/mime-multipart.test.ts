import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderMultipart } from "./mime-multipart.js";

/** A small reader for the documents renderMultipart writes (the integration test uses Python's email parser). */
function readParts(text: string): { headers: Record<string, string>; body: string }[] {
  const boundary = /boundary="([^"]+)"/.exec(text)?.[1];
  if (!boundary) throw new Error("no boundary");
  const chunks = text.split(`\n--${boundary}`);
  return chunks.slice(1, -1).map((chunk) => {
    const [head, ...rest] = chunk.replace(/^\n/, "").split("\n\n");
    const headers = Object.fromEntries(
      (head ?? "")
        .split("\n")
        .map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]),
    );
    let body = rest.join("\n\n");
    if (headers["content-transfer-encoding"] === "base64") body = Buffer.from(body, "base64").toString("utf8");
    return { headers, body };
  });
}

describe("renderMultipart", () => {
  const parts = [
    { type: "text/cloud-config", content: { hostname: "web-1", runcmd: ["echo on"] } },
    { type: "text/x-shellscript", content: "#!/bin/sh\necho hello\n", filename: "hello.sh" },
    { type: "text/cloud-boothook", content: "#!/bin/sh\necho 'é ✓' > /run/boot\n" },
  ] as const;

  it("writes each part with its type, a deterministic boundary and the exact bytes", () => {
    const text = renderMultipart(parts);
    expect(renderMultipart(parts)).toBe(text);
    expect(text.startsWith('Content-Type: multipart/mixed; boundary="==cloud-init-gen-')).toBe(true);
    const read = readParts(text);
    expect(read.map((p) => p.headers["content-type"])).toEqual([
      'text/cloud-config; charset="utf-8"',
      'text/x-shellscript; charset="utf-8"',
      'text/cloud-boothook; charset="utf-8"',
    ]);
    expect(parse(read[0]!.body.replace(/^#cloud-config\n/, ""))).toEqual({ hostname: "web-1", runcmd: ["echo on"] });
    expect(read[1]).toMatchObject({ body: "#!/bin/sh\necho hello\n" });
    expect(read[1]!.headers["content-disposition"]).toBe('attachment; filename="hello.sh"');
    expect(read[2]).toMatchObject({ body: "#!/bin/sh\necho 'é ✓' > /run/boot\n" });
    expect(read[2]!.headers["content-transfer-encoding"]).toBe("base64");
  });

  it("uses a given boundary and refuses one that occurs in a part", () => {
    expect(renderMultipart(parts, { boundary: "XYZ" })).toContain("\n--XYZ--\n");
    expect(() =>
      renderMultipart([{ type: "text/x-shellscript", content: "#!/bin/sh\necho --XYZ\n" }], { boundary: "XYZ" }),
    ).toThrow(/contains the boundary/);
  });

  it("refuses a script without #! and an empty list", () => {
    expect(() => renderMultipart([{ type: "text/x-shellscript", content: "echo hi" }])).toThrow(
      /must start with a #! line/,
    );
    expect(() => renderMultipart([])).toThrow(/at least one part/);
  });
});
