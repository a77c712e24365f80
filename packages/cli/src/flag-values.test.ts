import { describe, expect, it } from "vitest";
import { parseBuildArgs, parseHttpUrl } from "./flag-values.js";

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

describe("parseBuildArgs", () => {
  it.each([
    { raw: undefined, want: {} },
    { raw: "HEXCLAVE_SERVER_TAG=main", want: { HEXCLAVE_SERVER_TAG: "main" } },
    {
      raw: ["PGDG_APT_URL=file:///srv/pgdg", "EMPTY=", "X=a=b"],
      want: { PGDG_APT_URL: "file:///srv/pgdg", EMPTY: "", X: "a=b" },
    },
  ])("$raw", ({ raw, want }) => {
    expect(parseBuildArgs(raw)).toEqual(want);
  });

  it.each([
    { raw: "NOVALUE", message: /NAME=VALUE .* got "NOVALUE"/ },
    { raw: "=x", message: /got "=x"/ },
    { raw: "1ABC=x", message: /got "1ABC=x"/ },
    { raw: "A-B=x", message: /got "A-B=x"/ },
    { raw: ["A=1", "A=2"], message: /--build-arg A is given twice/ },
  ])("rejects $raw naming the problem", ({ raw, message }) => {
    expect(() => parseBuildArgs(raw, ["build-image"])).toThrow(message);
  });
});
