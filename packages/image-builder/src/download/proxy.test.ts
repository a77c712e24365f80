import { describe, expect, it } from "vitest";
import { staleReason } from "./lock.js";
import { isNoProxy, proxyForUrl } from "./proxy.js";

describe("proxyForUrl", () => {
  const env = {
    HTTPS_PROXY: "http://proxy:3128",
    http_proxy: "http://plain:8080",
    NO_PROXY: "localhost,.corp.example,10.0.0.1,mirror:8443",
  };
  it.each([
    ["https://cloud.debian.org/x", "http://proxy:3128"],
    ["http://deb.debian.org/x", "http://plain:8080"],
    ["https://localhost/x", undefined],
    ["https://a.corp.example/x", undefined],
    ["https://corp.example/x", undefined],
    ["https://notcorp.example/x", "http://proxy:3128"],
    ["https://10.0.0.1/x", undefined],
    ["https://mirror:8443/x", undefined],
    ["https://mirror/x", "http://proxy:3128"],
  ])("%s -> %s", (url, expected) => {
    expect(proxyForUrl(url, env)).toBe(expected);
  });
  it("uses no proxy when none is set, and none at all for NO_PROXY=*", () => {
    expect(proxyForUrl("https://x.example/", {})).toBeUndefined();
    expect(proxyForUrl("https://x.example/", { https_proxy: "http://p:1", no_proxy: "*" })).toBeUndefined();
  });
  it("matches bare domains as suffixes and IPv6 hosts exactly", () => {
    expect(isNoProxy(new URL("https://sub.example.org/"), "example.org")).toBe(true);
    expect(isNoProxy(new URL("https://badexample.org/"), "example.org")).toBe(false);
    expect(isNoProxy(new URL("http://[::1]:8080/"), "::1")).toBe(true);
  });
});

describe("lock staleness", () => {
  const here = { hostname: "h1", alive: (pid: number) => pid === 10 };
  it("is stale when the holder is a dead process on this host", () => {
    expect(staleReason({ pid: 11, hostname: "h1", createdAt: "", token: "" }, 0, 60_000, here)).toMatch(/gone/);
  });
  it("is held by a live process, or by a process on another host until untouched for staleMs", () => {
    expect(staleReason({ pid: 10, hostname: "h1", createdAt: "", token: "" }, 0, 60_000, here)).toBeUndefined();
    expect(staleReason({ pid: 11, hostname: "h2", createdAt: "", token: "" }, 1000, 60_000, here)).toBeUndefined();
    expect(staleReason({ pid: 11, hostname: "h2", createdAt: "", token: "" }, 61_000, 60_000, here)).toMatch(/61 s/);
  });
});
