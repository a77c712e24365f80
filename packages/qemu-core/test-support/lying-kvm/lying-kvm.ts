/**
 * Test support: a host whose KVM runs a tiny guest but not a real kernel,
 * simulated on any host (see lying-kvm-qemu.mjs for exactly what is real and
 * what is simulated). `installLyingKvmQemu(dir)` writes `qemu-system-x86_64`
 * into `dir`: put `dir` first on PATH, or pass `<dir>/qemu-system-x86_64` as
 * the QEMU binary. KVM's device must also look usable (`kvmDevice` of the
 * accelerator probe pointed at a file, or run-on-lying-kvm-host.sh's mount
 * namespace for whole commands).
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const LYING_KVM_SCRIPT = fileURLToPath(new URL("./lying-kvm-qemu.mjs", import.meta.url));

/** Writes the `qemu-system-x86_64` shim into `dir` and returns its path. */
export async function installLyingKvmQemu(
  dir: string,
  options: { realQemu?: string; tripMs?: number; spare?: "tiny" | "probes" | "pass-probes" } = {},
): Promise<string> {
  const env: Record<string, string> = {
    ...(options.realQemu === undefined ? {} : { LYING_KVM_REAL_QEMU: options.realQemu }),
    ...(options.tripMs === undefined ? {} : { LYING_KVM_TRIP_MS: String(options.tripMs) }),
    ...(options.spare === undefined ? {} : { LYING_KVM_SPARE: options.spare }),
  };
  const { stdout } = await promisify(execFile)(process.execPath, [LYING_KVM_SCRIPT, "install", dir], {
    env: { ...process.env, ...env },
  });
  return stdout.trim();
}
