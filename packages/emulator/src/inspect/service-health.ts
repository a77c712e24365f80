/**
 * The four forwarded services' health, checked from the host through the
 * forwarded ports (127.0.0.1), with qemu-core's readiness probes.
 */
import { httpProbe, type ReadinessProbe } from "@hexclave/qemu-core";
import type { ExposedEndpoint } from "../machine/vm-spec.js";

export interface ServiceEndpoint {
  readonly name: string;
  /** Base URL on the host, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Health URL (base plus the health path). */
  readonly healthUrl: string;
  readonly expectStatus: readonly number[];
}

export interface ServiceHealthCheck {
  readonly name: string;
  readonly url: string;
  readonly up: boolean;
  /** `got 200`, `ECONNREFUSED`, `got 503, expected 200`. */
  readonly detail: string;
  /** ISO time of the check; null when never checked. */
  readonly lastCheck: string | null;
  /** When it came up, ms since the start of the call (start only). */
  readonly upAtMs?: number;
}

export function serviceEndpoints(
  services: readonly ExposedEndpoint[],
  hostPorts: Readonly<Record<string, number>>,
): ServiceEndpoint[] {
  return services.map((s) => {
    const url = `http://127.0.0.1:${hostPorts[s.service] ?? s.hostPort}`;
    return { name: s.service, url, healthUrl: `${url}${s.health.path}`, expectStatus: s.health.expectStatus };
  });
}

export function serviceProbes(endpoints: readonly ServiceEndpoint[]): ReadinessProbe[] {
  return endpoints.map((e) => httpProbe({ url: e.healthUrl, expectStatus: e.expectStatus, name: e.name }));
}

/** One attempt per service, in parallel, each bounded by `timeoutMs`. */
export async function checkServicesOnce(
  endpoints: readonly ServiceEndpoint[],
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<ServiceHealthCheck[]> {
  const probes = serviceProbes(endpoints);
  const signal = options.signal ?? new AbortController().signal;
  return Promise.all(
    endpoints.map(async (e, i) => {
      const lastCheck = new Date().toISOString();
      try {
        const detail = await probes[i]!.check({ signal, timeoutMs: options.timeoutMs ?? 2000 });
        return { name: e.name, url: e.url, up: true, detail, lastCheck };
      } catch (error) {
        return {
          name: e.name,
          url: e.url,
          up: false,
          detail: error instanceof Error ? error.message : String(error),
          lastCheck,
        };
      }
    }),
  );
}
