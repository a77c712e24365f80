/**
 * Test support: a host whose KVM runs a tiny guest but not a real kernel,
 * simulated on any host (see lying-kvm-qemu.mjs for exactly what is real and
 * what is simulated). `installLyingKvmQemu(dir)` writes `qemu-system-x86_64`
 * into `dir`: put `dir` first on PATH, or pass `<dir>/qemu-system-x86_64` as
 * the QEMU binary. KVM's device must also look usable (`kvmDevice` of the
 * accelerator probe pointed at a file, or run-on-lying-kvm-host.sh's mount
 * namespace for whole commands).
 */
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const LYING_KVM_SCRIPT = fileURLToPath(new URL("./lying-kvm-qemu.mjs", import.meta.url));

/** Writes the `qemu-system-x86_64` shim into `dir` and returns its path. */
export async function installLyingKvmQemu(
  dir: string,
  options: { realQemu?: string; tripMs?: number; spare?: "tiny" | "probes" } = {},
): Promise<string> {
  const file = join(dir, "qemu-system-x86_64");
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const env = [
    `LYING_KVM_DIR=${quote(dir)}`,
    "LYING_KVM_NAME=qemu-system-x86_64",
    ...(options.realQemu === undefined ? [] : [`LYING_KVM_REAL_QEMU=${quote(options.realQemu)}`]),
    ...(options.tripMs === undefined ? [] : [`LYING_KVM_TRIP_MS=${options.tripMs}`]),
    ...(options.spare === undefined ? [] : [`LYING_KVM_SPARE=${options.spare}`]),
  ];
  await writeFile(
    file,
    `#!/bin/sh\n# A QEMU on a host whose KVM fails real guests (test support: lying-kvm-qemu.mjs)\n${env.map((e) => `export ${e}`).join("\n")}\nexec ${quote(process.execPath)} ${quote(LYING_KVM_SCRIPT)} "$@"\n`,
  );
  await chmod(file, 0o755);
  return file;
}
