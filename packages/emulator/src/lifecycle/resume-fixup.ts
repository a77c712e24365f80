/** After a resume: thaw the file systems frozen before the save, set the clock, refresh the runtime env, bounce the NIC. */
import type { GuestAgentClient } from "@hexclave/qemu-core";
import type { Emit, EmulatorContext } from "../context.js";
import { abortError, aborted, sleep } from "../internal/abort.js";
import { errorText } from "../internal/error-text.js";
import { NIC_ID } from "../machine/vm-spec.js";
import { refreshGuestRuntimeEnv } from "./runtime-env-start.js";

/** How long the NIC's link stays down when a resume bounces it (the guest sees carrier loss, then renews DHCP). */
const LINK_BOUNCE_MS = 100;

export async function afterResume(ctx: EmulatorContext, signal: AbortSignal | undefined, emit: Emit): Promise<void> {
  const began = Date.now();
  emit({ type: "stage-start", stage: "guest-fixup", label: "guest clock and network" });
  const done: string[] = [];
  // The guest agent (thaw, clock) and QMP (link bounce) are independent channels: run them together.
  const guestSide = (async () => {
    let agent: GuestAgentClient | undefined;
    try {
      agent = await ctx.vm.guestAgent({ timeoutMs: 15_000, ...(signal ? { signal } : {}) });
      const thawed = await agent.fsThaw({ timeoutMs: 15_000 }).catch(() => 0);
      if (thawed > 0) done.push(`thawed ${thawed} file systems`);
      const clock = await agent.setTime(new Date(), { timeoutMs: 10_000 });
      done.push(clock.hardwareClock ? "clock set" : "clock set (the guest has no hardware clock tool)");
      // The running container has the saved start's environment: a moved host port restarts it (issue 13).
      const env = await refreshGuestRuntimeEnv(agent, signal ? { signal } : {}).catch((error: unknown) => {
        if (aborted(signal)) throw abortError(signal);
        emit({
          type: "message",
          level: "warn",
          text: `The runtime environment was not refreshed: ${errorText(error)}`,
        });
        return undefined;
      });
      if (env !== undefined)
        done.push(env === "changed" ? "new runtime environment: container restarted" : "runtime environment unchanged");
    } catch (error) {
      if (aborted(signal)) throw abortError(signal);
      emit({
        type: "message",
        level: "warn",
        text: `The guest agent did not answer after the resume: ${errorText(error)}`,
      });
    } finally {
      agent?.close();
    }
  })();
  const linkSide = (async () => {
    const qmp = await ctx.vm.qmp(signal ? { signal } : {});
    await qmp.setLink(NIC_ID, false);
    await sleep(LINK_BOUNCE_MS, signal);
    await qmp.setLink(NIC_ID, true);
    ctx.vm.close();
  })();
  await Promise.all([guestSide, linkSide]);
  done.push("link bounced");
  emit({ type: "stage-end", stage: "guest-fixup", durationMs: Date.now() - began, detail: done.join(", ") });
}
