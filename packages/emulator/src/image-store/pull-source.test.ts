import { describe, expect, it } from "vitest";
import {
  authHeadersFor,
  DEFAULT_RELEASES_REPO,
  pointerLocation,
  RELEASES_ENV,
  releaseFileLocation,
  resolvePullSource,
  sumsLocation,
} from "./pull-source.js";

describe("resolvePullSource", () => {
  it("defaults to the GitHub releases of the default repo", () => {
    const source = resolvePullSource({ env: {} });
    expect(source).toEqual({
      kind: "github",
      root: `https://github.com/${DEFAULT_RELEASES_REPO}/releases/download`,
      display: `https://github.com/${DEFAULT_RELEASES_REPO}/releases`,
    });
    expect(pointerLocation(source, "dev")).toBe(
      `https://github.com/${DEFAULT_RELEASES_REPO}/releases/download/emulator-channels/emulator-dev.json`,
    );
    expect(releaseFileLocation(source, "emulator-dev-20250101-0123abcd", "stack-emulator-arm64.qcow2")).toBe(
      `https://github.com/${DEFAULT_RELEASES_REPO}/releases/download/emulator-dev-20250101-0123abcd/stack-emulator-arm64.qcow2`,
    );
  });

  it("takes the repo (or a mirror URL) from HEXCLAVE_EMULATOR_RELEASES", () => {
    expect(resolvePullSource({ env: { [RELEASES_ENV]: "acme/fork" } }).root).toBe(
      "https://github.com/acme/fork/releases/download",
    );
    const mirror = resolvePullSource({ env: { [RELEASES_ENV]: "https://mirror.example/emu/" } });
    expect(mirror).toMatchObject({ kind: "url", root: "https://mirror.example/emu" });
    expect(() => resolvePullSource({ env: { [RELEASES_ENV]: "not a repo" } })).toThrow(/owner\/name/);
  });

  it("lays a mirror out as <from>/emulator-<channel>.json and <from>/<version>/<file>", () => {
    const source = resolvePullSource({
      from: "http://127.0.0.1:8080/emu",
      env: { [RELEASES_ENV]: "acme/fork" },
      allowInsecureHttp: true,
    });
    expect(pointerLocation(source, "main")).toBe("http://127.0.0.1:8080/emu/emulator-main.json");
    expect(sumsLocation(source, "v1")).toBe("http://127.0.0.1:8080/emu/v1/SHA256SUMS");
    expect(sumsLocation(source, undefined)).toBe("http://127.0.0.1:8080/emu/SHA256SUMS");
  });

  it("refuses a plain http:// mirror unless --allow-insecure-http", () => {
    for (const options of [
      { from: "http://127.0.0.1:8080/emu" },
      { env: { [RELEASES_ENV]: "HTTP://mirror.example/emu" } },
    ]) {
      expect(() => resolvePullSource(options)).toThrow(/plain http:\/\//);
      const error = (() => {
        try {
          resolvePullSource(options);
        } catch (e) {
          return e as { code: string; hint: string };
        }
        return undefined;
      })();
      expect(error).toMatchObject({
        code: "PULL_SOURCE_INVALID",
        hint: expect.stringContaining("--allow-insecure-http"),
      });
      expect(resolvePullSource({ ...options, allowInsecureHttp: true }).kind).toBe("url");
    }
  });

  it("takes a local directory, relative to cwd, or a file: URL", () => {
    const source = resolvePullSource({ from: "mirror", cwd: "/srv" });
    expect(source).toEqual({ kind: "directory", root: "/srv/mirror", display: "/srv/mirror" });
    expect(pointerLocation(source, "main")).toBe("/srv/mirror/emulator-main.json");
    expect(releaseFileLocation(source, "v1", "a.qcow2")).toBe("/srv/mirror/v1/a.qcow2");
    expect(resolvePullSource({ from: "file:///srv/m" }).root).toBe("/srv/m");
    expect(() => resolvePullSource({ from: "ftp://host/x" })).toThrow(/http\(s\)/);
  });
});

describe("authHeadersFor", () => {
  it("sends GITHUB_TOKEN to GitHub over https only", () => {
    expect(authHeadersFor("https://github.com/o/r/releases/download/x/y", "t0k")).toEqual({
      authorization: "Bearer t0k",
    });
    expect(authHeadersFor("https://api.github.com/repos/o/r", "t0k")).toEqual({ authorization: "Bearer t0k" });
    expect(authHeadersFor("http://github.com/o/r", "t0k")).toEqual({});
    expect(authHeadersFor("https://github.com.evil.example/x", "t0k")).toEqual({});
    expect(authHeadersFor("https://mirror.example/x", "t0k")).toEqual({});
    expect(authHeadersFor("https://github.com/x", undefined)).toEqual({});
  });
});
