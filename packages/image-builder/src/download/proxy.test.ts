import { describe, expect, it } from "vitest";
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
