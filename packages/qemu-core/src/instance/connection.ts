/**
 * The instance's QMP connection (one per instance and process: QMP serves
 * one client at a time), its guest agent, and the poll timings every use
 * case shares.
 */
import { GuestAgentClient, type GuestAgentConnectOptions } from "../guest-agent-client.js";
import type { InstancePaths } from "../instance-layout.js";
import { QmpClient } from "../qmp-client.js";

/** How long one QMP probe (connect, `query-status`) may take. */
export const QMP_PROBE_TIMEOUT_MS = 2_000;
/** How often waits on a process or on QMP poll. */
export const POLL_MS = 100;
/** How long `stop` waits for a guest agent to answer before it relies on the power button alone. */
export const GUEST_AGENT_PROBE_TIMEOUT_MS = 3_000;
/** How often a state save polls `query-migrate`. */
export const MIGRATION_POLL_MS = 25;
/**
 * How often a state load polls `query-migrate`: a resume waits on it, and QEMU answers a query only between the
 * load's steps, so a short interval costs nothing while it loads and finds the end sooner (at 25 ms a resume found it
 * 15-25 ms late).
 */
export const INCOMING_POLL_MS = 5;

export class InstanceConnection {
  private client: QmpClient | undefined;

  constructor(private readonly paths: InstancePaths) {}

  /** The connected QMP client, connecting if needed. Do not close it; call {@link drop}. */
  async qmp(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<QmpClient> {
    if (this.client?.connected) return this.client;
    this.client = undefined;
    const client = await QmpClient.connect(this.paths.qmpSocket, options);
    client.onClose(() => {
      if (this.client === client) this.client = undefined;
    });
    this.client = client;
    return client;
  }

  /** The client when one is connected now (never connects). */
  get current(): QmpClient | undefined {
    return this.client?.connected === true ? this.client : undefined;
  }

  /** A new guest agent client on the instance's qga socket (the caller closes it). */
  guestAgent(options: GuestAgentConnectOptions = {}): Promise<GuestAgentClient> {
    return GuestAgentClient.connect(this.paths.guestAgentSocket, options);
  }

  /** Closes the QMP connection (the VM keeps running). */
  drop(): void {
    this.client?.close();
    this.client = undefined;
  }
}
