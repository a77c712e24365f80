import { describe, expect, it } from "vitest";
import { parseHttpUrl } from "./flag-values.js";

describe("parseHttpUrl", () => {
  it("takes an http(s) URL and names the flag or variable a bad value came from", () => {
    expect(parseHttpUrl("http://127.0.0.1:8080/images/cloud/trixie/latest/", { flag: "--cloud-url" })).toBe(
      "http://127.0.0.1:8080/images/cloud/trixie/latest/",
    );
    expect(() => parseHttpUrl("ftp://mirror/x", { flag: "--cloud-url" })).toThrow(
      /--cloud-url must be an http:\/\/ or https:\/\/ URL .*got "ftp:\/\/mirror\/x"/,
    );
    expect(() => parseHttpUrl("not a url", { env: "HEXCLAVE_CLOUD_IMAGE_URL" })).toThrow(
      /environment variable HEXCLAVE_CLOUD_IMAGE_URL must be an http/,
    );
    expect(() => parseHttpUrl(" ", { flag: "--cloud-url" })).toThrow(/--cloud-url needs a value/);
  });
});
