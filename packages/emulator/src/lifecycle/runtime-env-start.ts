/**
 * The start hook of the runtime environment (issue 13): before QEMU starts,
 * cold or resuming, render this start's environment from the host ports it
 * forwards and the install's secrets, and write the fw_cfg file QEMU reads.
 * After a resume the guest is told to re-read it ({@link refreshGuestRuntimeEnv}).
 */

import type { RuntimeHostPorts } from "@hexclave/image-builder/image";
import {
  imageBuilderErrors,
  loadOrCreateRuntimeSecrets,
  RUNTIME_ENV_REFRESH_RESULTS,
  RUNTIME_ENV_SCRIPT_PATH,
  type RuntimeEnvRefreshResult,
  writeRuntimeEnvFwCfg,
} from "@hexclave/image-builder/image";
import type { GuestAgentClient } from "@hexclave/qemu-core";

const SERVICES = ["dashboard", "backend", "minio", "inbucket"] as const;

/** The four host ports from the start's resolved ports (service name -> host port). */
export function runtimeHostPorts(ports: Readonly<Record<string, number>>): RuntimeHostPorts {
  const missing = SERVICES.filter((s) => ports[s] === undefined);
  if (missing.length > 0) {
    throw imageBuilderErrors.create(
      "RUNTIME_ENV_INVALID",
      `The image's manifest forwards no host port for ${missing.join(", ")}; the runtime environment needs all four of ${SERVICES.join(", ")}`,
      { details: { ports } },
    );
  }
  const get = (s: (typeof SERVICES)[number]) => ports[s] as number;
  return { dashboard: get("dashboard"), backend: get("backend"), minio: get("minio"), inbucket: get("inbucket") };
}

export interface PreparedRuntimeEnv {
  readonly fwCfgFile: string;
  readonly secretsFile: string;
  /** True on the first start of this emulator home (the secrets were made now). */
  readonly secretsCreated: boolean;
  readonly ports: RuntimeHostPorts;
  /** sha256 of the fw_cfg file: equal digests mean the guest would read the same environment. */
  readonly sha256: string;
}

/** Loads (or makes) the install's secrets and writes `run/<instance>/runtime-env.fwcfg` (0600). */
export async function prepareRuntimeEnv(options: {
  readonly home: string;
  readonly instanceDir: string;
  readonly ports: Readonly<Record<string, number>>;
  /** The guest supervisor's start deadlines are multiplied by it (a guest of another arch: 3); default 1. */
  readonly startTimeoutFactor?: number;
}): Promise<PreparedRuntimeEnv> {
  const ports = runtimeHostPorts(options.ports);
  const loaded = await loadOrCreateRuntimeSecrets(options.home);
  const written = await writeRuntimeEnvFwCfg(options.instanceDir, {
    ports,
    secrets: loaded.secrets,
    mode: "run",
    startTimeoutFactor: options.startTimeoutFactor ?? 1,
  });
  return {
    fwCfgFile: written.path,
    secretsFile: loaded.path,
    secretsCreated: loaded.created,
    ports,
    sha256: written.sha256,
  };
}

/**
 * After a resume: the guest re-reads its fw_cfg entry and, when the content
 * changed (a moved host port), rewrites its env file and restarts the
 * container, whose apps otherwise keep the old URLs. Blocks until the old
 * container is stopped and the new one started, so readiness polling after it
 * sees the new container.
 */
export async function refreshGuestRuntimeEnv(
  agent: GuestAgentClient,
  options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
): Promise<RuntimeEnvRefreshResult> {
  const result = await agent.exec(RUNTIME_ENV_SCRIPT_PATH, ["refresh"], {
    timeoutMs: options.timeoutMs ?? 150_000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const last = result.stdout.trim().split("\n").pop() ?? "";
  if (result.exitCode !== 0 || !(RUNTIME_ENV_REFRESH_RESULTS as readonly string[]).includes(last)) {
    throw imageBuilderErrors.create(
      "RUNTIME_ENV_INVALID",
      `${RUNTIME_ENV_SCRIPT_PATH} refresh failed in the guest (exit ${String(result.exitCode)}): ${(result.stderr || result.stdout).trim().slice(0, 400)}`,
    );
  }
  return last as RuntimeEnvRefreshResult;
}
