/**
 * The emulator's promise to the host: four ports on 127.0.0.1, each with a
 * health path that answers 200 once its service is up. For tests that check
 * a started emulator from outside (the ports may be moved per test).
 */
export const FOUR_PORT_HEALTH_PATHS = {
  dashboard: "/handler/sign-in",
  backend: "/health?db=1",
  minio: "/minio/health/live",
  inbucket: "/",
} as const;

export type FourPorts = Readonly<Record<keyof typeof FOUR_PORT_HEALTH_PATHS, number>>;

/** The HTTP status of each service's health path on its host port. */
export async function fourPortStatuses(ports: FourPorts): Promise<Record<string, number>> {
  const statuses: Record<string, number> = {};
  for (const [service, path] of Object.entries(FOUR_PORT_HEALTH_PATHS)) {
    const port = ports[service as keyof FourPorts];
    statuses[service] = await fetch(`http://127.0.0.1:${port}${path}`).then(
      (res) => res.status,
      () => 0,
    );
  }
  return statuses;
}
