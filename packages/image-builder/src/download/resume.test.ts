import { describe, expect, it } from "vitest";
import { decideResponse, ifRangeValue, parseContentRange, rangeRequest } from "./resume.js";

describe("If-Range validator", () => {
  it.each([
    [{ etag: '"abc"', lastModified: "Wed, 01 Jan 2025 00:00:00 GMT" }, '"abc"'],
    [{ etag: 'W/"weak"', lastModified: "Wed, 01 Jan 2025 00:00:00 GMT" }, "Wed, 01 Jan 2025 00:00:00 GMT"],
    [{ lastModified: "Wed, 01 Jan 2025 00:00:00 GMT" }, "Wed, 01 Jan 2025 00:00:00 GMT"],
    [{ etag: 'W/"weak"' }, undefined],
    [{}, undefined],
    [undefined, undefined],
  ])("%j -> %s", (validator, expected) => {
    expect(ifRangeValue(validator)).toBe(expected);
  });
});

describe("rangeRequest", () => {
  it("asks for the rest of a partial file, guarded by If-Range", () => {
    expect(rangeRequest(1000, { etag: '"e1"' })).toEqual({
      headers: { range: "bytes=1000-", "if-range": '"e1"' },
      from: 1000,
    });
  });
  it("starts from zero with no partial file", () => {
    expect(rangeRequest(0, { etag: '"e1"' })).toEqual({ headers: {}, from: 0 });
  });
  it("starts from zero when the partial file's version is unknown (no safe If-Range)", () => {
    expect(rangeRequest(1000, undefined)).toEqual({ headers: {}, from: 0 });
    expect(rangeRequest(1000, { etag: 'W/"weak"' })).toEqual({ headers: {}, from: 0 });
  });
});

describe("parseContentRange", () => {
  it.each([
    ["bytes 100-199/200", { start: 100, end: 199, total: 200 }],
    ["bytes 0-0/*", { start: 0, end: 0, total: undefined }],
    ["bytes 100-99/200", undefined],
    ["bytes 100-200/200", undefined],
    ["items 1-2/3", undefined],
    [undefined, undefined],
  ])("%s", (value, expected) => {
    expect(parseContentRange(value)).toEqual(expected);
  });
});

describe("decideResponse", () => {
  it("appends a 206 that starts where asked", () => {
    expect(decideResponse({ requestedFrom: 100, status: 206, contentRange: "bytes 100-199/200" })).toEqual({
      action: "append",
      from: 100,
      total: 200,
    });
  });
  it("restarts from zero on a 200 to a Range request (the resource changed)", () => {
    expect(decideResponse({ requestedFrom: 100, status: 200, contentLength: 300 })).toMatchObject({
      action: "from-zero",
      total: 300,
      restartReason: expect.stringContaining("changed"),
    });
  });
  it("downloads from zero on a plain 200", () => {
    expect(decideResponse({ requestedFrom: 0, status: 200, contentLength: 300 })).toEqual({
      action: "from-zero",
      total: 300,
    });
  });
  it("discards the part on a 206 that starts elsewhere", () => {
    expect(decideResponse({ requestedFrom: 100, status: 206, contentRange: "bytes 0-199/200" }).action).toBe(
      "discard-and-retry",
    );
  });
  it("treats 416 with the part's exact size as complete, otherwise discards", () => {
    expect(decideResponse({ requestedFrom: 200, status: 416, contentRange: "bytes */200" })).toEqual({
      action: "complete",
      total: 200,
    });
    expect(decideResponse({ requestedFrom: 300, status: 416, contentRange: "bytes */200" }).action).toBe(
      "discard-and-retry",
    );
  });
  it.each([408, 429, 500, 502, 503, 504, 520])("retries HTTP %i", (status) => {
    expect(decideResponse({ requestedFrom: 0, status })).toEqual({ action: "retry", reason: `HTTP ${status}` });
  });
  it.each([401, 403, 404, 410])("fails at once on HTTP %i", (status) => {
    expect(decideResponse({ requestedFrom: 0, status })).toEqual({ action: "fail", reason: `HTTP ${status}` });
  });
});
