/**
 * After a resume: thaw the file systems frozen before the save, set the clock, refresh the runtime env (only when it
 * differs from the saved run's), bounce the NIC (only when the guest's network reach changed). The stage's detail
 * times each step.
 */
import type { GuestAgentClient, UserNetworkSpec } from "@hexclave/qemu-core";
import type { Emit, EmulatorContext } from "../context.js";
import { abortError, aborted, sleep } from "../internal/abort.js";
import { errorText } from "../internal/error-text.js";
import { NIC_ID } from "../machine/vm-spec.js";
import { refreshGuestRuntimeEnv } from "./runtime-env-start.js";

/** How long the NIC's link stays down when a resume bounces it (the guest sees carrier loss, then renews DHCP). */
const LINK_BOUNCE_MS = 100;

export interface RuntimeEnvDigests {
  /** This start's runtime environment. */
  readonly runtimeEnvSha256: string;
  /** The environment the saved run's container had; undefined when unknown (a state saved before it was recorded). */
  readonly savedRuntimeEnvSha256: string | undefined;
}

/**
 * Whether a resumed guest must re-read its runtime environment: only when this start's differs from the saved run's
 * (a moved host port, new secrets) or the saved one is unknown. Pure.
 */
export function runtimeEnvNeedsRefresh(d: RuntimeEnvDigests): boolean {
  return d.savedRuntimeEnvSha256 === undefined || d.savedRuntimeEnvSha256 !== d.runtimeEnvSha256;
}

/** What of a user network the guest can tell apart: whether it is restricted, and where its guest forwards are. */
function guestReach(network: UserNetworkSpec | undefined): string {
  const forwards = (network?.guestForwards ?? []).map((f) => `${f.guestAddress}:${f.guestPort}`).sort();
  return `${network?.restrict === true ? "restricted" : "open"} ${forwards.join(",")}`;
}

/**
 * Why a resume bounces the guest's link (carrier off, then on: the guest renews its lease and drops what it held),
 * or undefined when it keeps it. Pure. Only a changed reach (another `--guest-network` or `--guest-reach`) is a
 * reason: the user network hands a resumed guest the same address, gateway and DNS, and a moved host port
 * (`hostfwd`) is invisible to it. A bounce costs a resume about 0.5 s (measured here): probes opened while the link
 * is down hang until retried.
 */
export function linkBounceReason(
  saved: UserNetworkSpec | undefined,
  current: UserNetworkSpec | undefined,
): string | undefined {
  const before = guestReach(saved);
  const now = guestReach(current);
  return before === now ? undefined : "the guest's network reach changed since the state was saved";
}

/** `label (0.4 s)`: one fix-up step and how long it took. */
function timed(label: string, since: number): string {
  return `${label} (${((Date.now() - since) / 1000).toFixed(1)} s)`;
}

/**
 * Runs the fix-ups; resolves true when the guest's container now runs with this start's runtime environment
 * (refreshed, or already the same), false when that is unknown (the agent or the refresh failed).
 */
export async function afterResume(
  ctx: EmulatorContext,
  signal: AbortSignal | undefined,
  emit: Emit,
  env: RuntimeEnvDigests,
  bounceLink: string | undefined,
): Promise<boolean> {
  const began = Date.now();
  emit({ type: "stage-start", stage: "guest-fixup", label: "guest clock and network" });
  const done: string[] = [];
  const refresh = runtimeEnvNeedsRefresh(env);
  let envCurrent = !refresh;
  if (!refresh) done.push("runtime environment unchanged (same digest as the saved run's)");
  // The guest agent (thaw, clock) and QMP (link bounce) are independent channels: run them together.
  const guestSide = (async () => {
    let agent: GuestAgentClient | undefined;
    try {
      const step = Date.now();
      // Pipelined: the sync, the thaw and the clock are written together and answered in one wake-up of the guest
      // (one after the other, they took 0.1-0.3 s each after a resume under TCG). The agent takes the clock only
      // once thawed, and answers in order.
      agent = await ctx.vm.guestAgent({ timeoutMs: 15_000, pipelined: true, ...(signal ? { signal } : {}) });
      const thaw = agent.fsThaw({ timeoutMs: 15_000 });
      const clockSet = agent.setTime(new Date(), { timeoutMs: 15_000 });
      clockSet.catch(() => {}); // awaited below, after the thaw
      // An agent that does not answer fails the clock too: that is the failure reported (below).
      const thawed = await thaw.catch(() => 0);
      if (thawed > 0) done.push(timed(`thawed ${thawed} file systems`, step));
      const clock = await clockSet;
      done.push(timed(clock.hardwareClock ? "clock set" : "clock set (the guest has no hardware clock tool)", step));
      if (!refresh) return;
      // The running container has the saved start's environment: a moved host port restarts it (issue 13).
      const refreshStep = Date.now();
      const result = await refreshGuestRuntimeEnv(agent, signal ? { signal } : {}).catch((error: unknown) => {
        if (aborted(signal)) throw abortError(signal);
        emit({
          type: "message",
          level: "warn",
          text: `The runtime environment was not refreshed: ${errorText(error)}`,
        });
        return undefined;
      });
      if (result !== undefined) {
        envCurrent = true;
        done.push(
          timed(
            result === "changed" ? "new runtime environment: container restarted" : "runtime environment unchanged",
            refreshStep,
          ),
        );
      }
    } catch (error) {
      if (aborted(signal)) throw abortError(signal);
      // Without the agent nothing is known of the guest's environment: the next resume refreshes it.
      if (refresh) envCurrent = false;
      emit({
        type: "message",
        level: "warn",
        text: `The guest agent did not answer after the resume: ${errorText(error)}`,
      });
    } finally {
      agent?.close();
    }
  })();
  const bounceLinkSide = async (why: string) => {
    const step = Date.now();
    const qmp = await ctx.vm.qmp(signal ? { signal } : {});
    await qmp.setLink(NIC_ID, false);
    await sleep(LINK_BOUNCE_MS, signal);
    await qmp.setLink(NIC_ID, true);
    ctx.vm.close();
    done.push(timed(`link bounced: ${why}`, step));
  };
  if (bounceLink === undefined) done.push("link kept (the guest's network is as saved)");
  const linkSide = bounceLink === undefined ? Promise.resolve() : bounceLinkSide(bounceLink);
  await Promise.all([guestSide, linkSide]);
  emit({ type: "stage-end", stage: "guest-fixup", durationMs: Date.now() - began, detail: done.join(", ") });
  return envCurrent;
}
