/**
 * Doctor checks about the user's shell environment rather than the machine:
 * an `EMULATOR_*` variable with a bad value (reported, not refused: doctor
 * is what people run when something is wrong), and which program `stack` on
 * `PATH` really is (Haskell's Stack installs one too).
 */
import type { SettingProblem } from "../settings-problems.js";
import type { DoctorCheck } from "./doctor-report.js";
import type { StackOnPath } from "./stack-on-path.js";

/** One failed check per bad variable: the commands that start or build refuse to run with it. */
export function environmentVariableCheck(problem: SettingProblem): DoctorCheck {
  return {
    id: `env:${problem.variable.toLowerCase().replaceAll("_", "-")}`,
    category: "environment",
    title: `Environment variable ${problem.variable}`,
    verdict: "fail",
    summary: `${problem.message.replace(/\.$/, "")}; start, stop and build-image refuse to run until it is fixed (doctor used the default)`,
    fix: `Unset it (unset ${problem.variable}) or give it a valid value.`,
    details: { variable: problem.variable, value: problem.value },
  };
}

export function stackOnPathCheck(facts: StackOnPath): DoctorCheck {
  const base = { id: "stack-on-path", category: "environment", title: "The stack command on PATH" } as const;
  const details = { first: facts.first, ours: facts.ours };
  if (facts.first === null) {
    return {
      ...base,
      verdict: "ok",
      summary: "No stack on PATH: run this CLI through npx stack or pnpm stack (or install @hexclave/cli globally).",
      fix: null,
      details,
    };
  }
  if (facts.firstIsOurs) {
    return { ...base, verdict: "ok", summary: `stack on PATH is this CLI (${facts.first}).`, fix: null, details };
  }
  const later = facts.ours === null ? "" : ` This CLI comes later on PATH, at ${facts.ours}.`;
  return {
    ...base,
    verdict: "warn",
    summary: `The first stack on PATH is ${facts.first}, another program (Haskell's Stack installs one, e.g. Debian's haskell-stack), not this CLI.${later}`,
    fix:
      "Run this CLI as npx stack or pnpm stack, or put the directory of @hexclave/cli's stack before " +
      `${facts.first.replace(/\/[^/]*$/, "") || "/"} on PATH.`,
    details,
  };
}
