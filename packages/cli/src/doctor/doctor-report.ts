/**
 * What `stack emulator doctor --json` prints. Mirrors
 * `packages/cli/schemas/doctor.schema.json` (tests validate real documents
 * against it); change both together.
 */
export const DOCTOR_SCHEMA_VERSION = 1;

export type Verdict = "ok" | "warn" | "fail";

/** Check ids are stable (scripts may filter on them). Port checks are `port:<service>`. */
export type CheckCategory =
  | "qemu"
  | "firmware"
  | "accelerator"
  | "kvm"
  | "ports"
  | "disk"
  | "docker"
  | "image"
  | "network"
  | "environment";

export interface DoctorCheck {
  /** Stable id: `qemu-binary`, `qemu-img`, `firmware`, `accelerator`, `kvm-device`, `port:dashboard`, `disk`, `docker`, `image`, `stack-on-path`, `env:emulator-cpus`... */
  readonly id: string;
  readonly category: CheckCategory;
  readonly title: string;
  readonly verdict: Verdict;
  /** What was found. */
  readonly summary: string;
  /** What to do; null when the verdict is ok. */
  readonly fix: string | null;
  /** Facts behind the verdict (paths, versions, pids, bytes). */
  readonly details: Readonly<Record<string, unknown>>;
}

export interface DoctorReport {
  readonly schemaVersion: typeof DOCTOR_SCHEMA_VERSION;
  /** `fail` if any check fails, else `warn` if any warns, else `ok`. */
  readonly verdict: Verdict;
  readonly host: { readonly os: string; readonly arch: string; readonly cpus: number; readonly memoryMb: number };
  /** The guest arch the checks are for. */
  readonly arch: "amd64" | "arm64";
  readonly home: string;
  readonly checks: readonly DoctorCheck[];
}

export function overallVerdict(checks: readonly Pick<DoctorCheck, "verdict">[]): Verdict {
  if (checks.some((c) => c.verdict === "fail")) return "fail";
  if (checks.some((c) => c.verdict === "warn")) return "warn";
  return "ok";
}
