import { describe, expect, it } from "vitest";
import {
  MMDEBSTRAP_START,
  type MmdebstrapProgress,
  mmdebstrapFailureHint,
  nextMmdebstrapProgress,
  progressWorthReporting,
} from "./mmdebstrap-output.js";

const feed = (lines: readonly string[]): MmdebstrapProgress => lines.reduce(nextMmdebstrapProgress, MMDEBSTRAP_START);

describe("mmdebstrap progress", () => {
  it("follows phases, apt's total and the packages fetched and set up in each phase", () => {
    const downloading = feed([
      "I: running apt-get update...",
      "Get:1 http://deb.debian.org/debian trixie InRelease [140 kB]",
      "I: downloading packages with apt...",
      "0 upgraded, 212 newly installed, 0 to remove and 0 not upgraded.",
      "Get:1 http://deb.debian.org/debian trixie/main arm64 libc6 arm64 2.41-12 [2,345 kB]",
      "Get:2 http://deb.debian.org/debian trixie/main arm64 bash arm64 5.2.37-2 [1,400 kB]",
    ]);
    expect(downloading).toEqual({ phase: "downloading packages with apt", step: "fetched", done: 2, total: 212 });
    const installing = [
      "I: installing remaining packages inside the chroot...",
      "Selecting previously unselected package tini.",
      "Unpacking tini (0.19.0-1+b3) ...",
      "Setting up tini (0.19.0-1+b3) ...",
    ].reduce(nextMmdebstrapProgress, downloading);
    expect(installing).toEqual({
      phase: "installing remaining packages inside the chroot",
      step: "set up",
      done: 1,
      total: undefined,
    });
  });

  it("counts a phase's fetches, then starts again from one for its set-ups (the long part)", () => {
    const fetched = feed([
      "I: installing remaining packages inside the chroot...",
      "0 upgraded, 2 newly installed, 0 to remove",
      "Get:1 http://deb.debian.org/debian trixie/main amd64 tini amd64 0.19.0-1+b3 [250 kB]",
      "Get:2 http://deb.debian.org/debian trixie/main amd64 grub-efi-amd64-bin amd64 2.12-9 [2,600 kB]",
    ]);
    expect(fetched).toMatchObject({ step: "fetched", done: 2, total: 2 });
    const settingUp = nextMmdebstrapProgress(fetched, "Setting up tini (0.19.0-1+b3) ...");
    expect(settingUp).toMatchObject({ step: "set up", done: 1, total: 2 });
    expect(progressWorthReporting(fetched, settingUp)).toBe(true);
  });

  it("never counts past apt's total", () => {
    const full = feed([
      "I: installing remaining packages inside the chroot...",
      "0 upgraded, 1 newly installed, 0 to remove",
      "Setting up tini (1) ...",
    ]);
    expect(nextMmdebstrapProgress(full, "Setting up libc-bin (2.41) ...")).toBe(full);
  });

  it("leaves the state as it was for lines that say nothing about progress", () => {
    const state = feed(["I: extracting archives..."]);
    expect(nextMmdebstrapProgress(state, "W: some warning")).toBe(state);
  });

  it("reports phase changes, every tenth package and the last one, not every line", () => {
    const phase = { phase: "installing essential packages", step: undefined, done: 0, total: undefined };
    expect(progressWorthReporting(MMDEBSTRAP_START, phase)).toBe(true);
    expect(progressWorthReporting(phase, phase)).toBe(false);
    const at = (done: number, total?: number) => ({ ...phase, done, total });
    expect(progressWorthReporting(at(8), at(9))).toBe(false);
    expect(progressWorthReporting(at(9), at(10))).toBe(true);
    expect(progressWorthReporting(at(11, 12), at(12, 12))).toBe(true);
    expect(progressWorthReporting(at(3), at(3, 40))).toBe(true);
  });
});

describe("mmdebstrapFailureHint", () => {
  it("names arch-test when mmdebstrap asks for it", () => {
    const hint = mmdebstrapFailureHint(["E: install arch-test for foreign architecture support"], "arm64");
    expect(hint).toContain("apt-get install arch-test");
    expect(hint).toContain("an arm64 tree");
  });

  it("names the binfmt_misc handler when the foreign arch cannot run", () => {
    const hint = mmdebstrapFailureHint(
      ["E: arm64 can neither be executed natively nor via qemu user emulation with binfmt_misc"],
      "arm64",
    );
    expect(hint).toContain("update-binfmts --enable qemu-aarch64");
  });

  it("speaks of the mirror only when a fetch failed, and falls back to the general hint otherwise", () => {
    expect(
      mmdebstrapFailureHint(["E: Failed to fetch http://deb.debian.org/debian/dists/trixie/InRelease"], "amd64"),
    ).toContain("Debian mirror did not answer");
    expect(mmdebstrapFailureHint(["E: something else entirely"], "amd64")).toBeUndefined();
  });
});
