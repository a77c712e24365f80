import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, formatTransfer } from "./format.js";
import { createPlainRenderer } from "./progress-renderer.js";
import { createProgressRenderer, createTtyRenderer, type TerminalStream } from "./tty-renderer.js";

class Collector {
  text = "";
  write(chunk: string) {
    this.text += chunk;
    return true;
  }
}

class FakeTerminal extends Collector implements TerminalStream {
  readonly isTTY = true;
  constructor(readonly columns = 100) {
    super();
  }
  cursorTo() {
    return true;
  }
  moveCursor() {
    return true;
  }
  clearLine() {
    return true;
  }
}

const fixedClock = () => new Date(2025, 0, 2, 3, 4, 5);

describe("plain renderer (pipes, CI, --json)", () => {
  it("prints one timestamped line per event, with no escape codes", () => {
    const out = new Collector();
    const r = createPlainRenderer({ stream: out, now: fixedClock });
    r.event({ type: "accelerator", accel: "tcg", reason: "kvm unusable: /dev/kvm does not exist" });
    r.event({ type: "stage-start", stage: "boot", label: "booting the guest" });
    r.event({ type: "stage-end", stage: "boot", durationMs: 41_200 });
    r.event({
      type: "service-health",
      service: "backend",
      up: true,
      url: "http://127.0.0.1:26701",
      detail: "got 200",
      elapsedMs: 45_000,
    });
    r.event({ type: "marker", name: "payload-loaded" });
    r.warn("slow");
    r.close();
    expect(out.text.split("\n")).toEqual([
      "03:04:05 accelerator: tcg (kvm unusable: /dev/kvm does not exist)",
      "03:04:05 booting the guest...",
      "03:04:05 boot done in 41.2 s",
      "03:04:05 backend up after 45.0 s  http://127.0.0.1:26701",
      "03:04:05 guest: payload-loaded",
      "03:04:05 warning: slow",
      "",
    ]);
    expect(out.text).not.toContain("\u001b[");
  });

  it("throttles download progress to every 10 % (or 5 s) and always prints the end", () => {
    const out = new Collector();
    const r = createPlainRenderer({ stream: out, now: fixedClock });
    for (let transferred = 0; transferred <= 1_000_000; transferred += 20_000) {
      r.event({ type: "download-progress", transferred, total: 1_000_000, bytesPerSecond: 2_000_000, etaSeconds: 3 });
    }
    const lines = out.text.trim().split("\n");
    expect(lines.length).toBe(11);
    expect(lines.at(-1)).toBe("03:04:05 download 976.6 KiB / 976.6 KiB (100%)  1.9 MiB/s  ETA 3.0 s");
  });
});

describe("tty renderer", () => {
  it("draws a spinner for the current stage, a tick when it ends, and colour", () => {
    const term = new FakeTerminal();
    const r = createTtyRenderer({ stream: term });
    r.event({ type: "stage-start", stage: "download", label: "downloading the base image" });
    r.event({
      type: "download-progress",
      transferred: 5_000_000,
      total: 10_000_000,
      bytesPerSecond: 1_000_000,
      etaSeconds: 5,
    });
    r.event({ type: "stage-end", stage: "download", durationMs: 5_000 });
    r.event({
      type: "service-health",
      service: "minio",
      up: false,
      url: "http://127.0.0.1:26702",
      detail: "503",
      elapsedMs: 1000,
    });
    r.close();
    expect(term.text).toContain("downloading the base image...");
    expect(term.text).toContain("4.8 MiB / 9.5 MiB (50%)  976.6 KiB/s  ETA 5.0 s");
    expect(term.text).toContain("✔");
    expect(term.text).toContain("✖");
    expect(term.text).toContain("\u001b[");
  });

  it("draws no colour when colour is off (NO_COLOR), yet still spins and ticks", () => {
    const term = new FakeTerminal();
    const r = createTtyRenderer({ stream: term, colour: false });
    r.event({ type: "stage-start", stage: "boot", label: "booting the guest" });
    r.event({ type: "stage-end", stage: "boot", durationMs: 41_200 });
    r.event({
      type: "service-health",
      service: "minio",
      up: false,
      url: "http://127.0.0.1:26702",
      detail: "",
      elapsedMs: 1000,
    });
    r.warn("slow");
    r.close();
    expect(term.text).toContain("booting the guest...");
    expect(term.text).toContain("✔ boot (41.2 s)");
    expect(term.text).toContain("✖ minio down");
    // SGR sequences (colour, dim) end in "m"; cursor and line control codes may stay.
    const sgr = term.text
      .split(String.fromCharCode(27))
      .slice(1)
      .filter((sequence) => /^\[[0-9;]*m/.test(sequence));
    expect(sgr).toEqual([]);
  });

  it("falls back to plain lines on a terminal that reports zero columns", () => {
    const term = new FakeTerminal(0);
    const r = createProgressRenderer({ stream: term, fancy: true, now: fixedClock });
    r.event({ type: "stage-start", stage: "boot", label: "booting the guest" });
    r.event({ type: "stage-end", stage: "boot", durationMs: 41_200 });
    r.close();
    expect(term.text).toBe("03:04:05 booting the guest...\n03:04:05 boot done in 41.2 s\n");
  });

  it("is chosen only when fancy output is wanted and the stream is a terminal", () => {
    const term = new FakeTerminal();
    createProgressRenderer({ stream: term, fancy: false, now: fixedClock }).info("hello");
    expect(term.text).toBe("03:04:05 hello\n");
    const plain = new Collector();
    createProgressRenderer({ stream: plain, fancy: true, now: fixedClock }).info("hello");
    expect(plain.text).toBe("03:04:05 hello\n");
  });
});

describe("formatting", () => {
  it("formats sizes, durations and transfers", () => {
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(1_536_000)).toBe("1.5 MiB");
    expect(formatBytes(323_000_000)).toBe("308.0 MiB");
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(125_000)).toBe("2 min 5 s");
    expect(formatTransfer({ transferred: 1000, total: null, bytesPerSecond: 0, etaSeconds: null })).toBe(
      "1000 B  0 B/s  ETA ?",
    );
  });
});
