/**
 * What mmdebstrap's output says, read line by line (it runs with `--verbose`,
 * so apt's and dpkg's own lines come through): the phase it is in (its `I:
 * <phase>...` lines), how many packages that phase has fetched (`Get:`
 * lines), then set up (`Setting up` lines: the long part, where maintainer
 * scripts run, under qemu-user for a foreign arch), out of how many (apt's
 * `N newly installed`), and, when it fails, a hint that fits the failure. All pure
 * but {@link followMmdebstrapProgress}, which keeps the state between lines.
 */
import type { Arch } from "@hexclave/qemu-core";

export interface MmdebstrapProgress {
  /** mmdebstrap's own words, e.g. `installing remaining packages inside the chroot`. */
  readonly phase: string;
  /** What {@link done} counts: packages fetched, then packages set up (a phase that installs does both, in turn). */
  readonly step: "fetched" | "set up" | undefined;
  /** Packages fetched or set up so far in this phase's current step. */
  readonly done: number;
  /** How many the phase handles, once apt has said so. */
  readonly total: number | undefined;
}

export const MMDEBSTRAP_START: MmdebstrapProgress = { phase: "starting", step: undefined, done: 0, total: undefined };

const PHASE = /^I: (.+?)\.\.\.\s*$/;
const NEWLY_INSTALLED = /\b(\d+) newly installed\b/;
const FETCHED = /^Get:\d+ /;
const SET_UP = /^Setting up \S+/;

/** The progress after one more output line; the same object when the line changes nothing. */
export function nextMmdebstrapProgress(state: MmdebstrapProgress, line: string): MmdebstrapProgress {
  const phase = PHASE.exec(line);
  if (phase?.[1] !== undefined) return { phase: phase[1], step: undefined, done: 0, total: undefined };
  const total = NEWLY_INSTALLED.exec(line);
  if (total?.[1] !== undefined) return { ...state, total: Number.parseInt(total[1], 10) };
  const step = FETCHED.test(line) ? "fetched" : SET_UP.test(line) ? "set up" : undefined;
  if (step === undefined) return state;
  if (step !== state.step) return { ...state, step, done: 1 };
  // dpkg also sets up again packages of an earlier phase (triggers): the count never passes apt's total.
  return state.total !== undefined && state.done >= state.total ? state : { ...state, done: state.done + 1 };
}

/**
 * Whether a change is worth an event: a new phase or step, the last package of a
 * step, or every `every`-th package (a few lines a minute, not hundreds).
 */
export function progressWorthReporting(before: MmdebstrapProgress, after: MmdebstrapProgress, every = 10): boolean {
  if (after === before) return false;
  if (after.phase !== before.phase || after.step !== before.step) return true;
  if (after.done === before.done) return after.total !== before.total;
  return after.done % every === 0 || after.done === after.total;
}

/** The typed progress event both mmdebstrap runs (bootstrap base, self-test base) report. */
export interface MmdebstrapProgressEvent extends MmdebstrapProgress {
  readonly type: "mmdebstrap-progress";
  /** Since mmdebstrap started. */
  readonly elapsedMs: number;
}

/** A line handler that reports progress worth reporting (see {@link progressWorthReporting}). */
export function followMmdebstrapProgress(
  onEvent: (event: MmdebstrapProgressEvent) => void,
  started: number = Date.now(),
): (line: string) => void {
  let state = MMDEBSTRAP_START;
  return (line) => {
    const next = nextMmdebstrapProgress(state, line);
    if (progressWorthReporting(state, next))
      onEvent({ type: "mmdebstrap-progress", ...next, elapsedMs: Date.now() - started });
    state = next;
  };
}

/** A hint that fits what mmdebstrap's last lines say, or undefined for the catalogue's general one. */
export function mmdebstrapFailureHint(lines: readonly string[], arch: Arch): string | undefined {
  const text = lines.join("\n");
  if (/arch-test/.test(text))
    return `mmdebstrap needs arch-test to build an ${arch} tree on this host: apt-get install arch-test qemu-user-static binfmt-support (bash scripts/setup.sh installs them).`;
  if (/cannot be executed natively|qemu user emulation|binfmt/.test(text))
    return `The host cannot run ${arch} programs: apt-get install qemu-user-static binfmt-support, then mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc and update-binfmts --enable ${arch === "arm64" ? "qemu-aarch64" : "qemu-x86_64"} (as root).`;
  if (
    /Failed to fetch|Temporary failure resolving|Could not (resolve|connect)|Unable to connect|Connection (refused|timed out)/.test(
      text,
    )
  )
    return "The Debian mirror did not answer: check the network (or proxy) and the mirror URL, then run again; the packages fetched so far are not kept.";
  if (/Operation not permitted|Permission denied|unshare/.test(text))
    return "mmdebstrap needs root here (or working user namespaces for --mode=unshare): run the build as root.";
  return undefined;
}
