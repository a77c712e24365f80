/** Gathers every doctor fact (concurrently where independent) and builds the {@link DoctorReport}. */
import type { EmulatorSettings } from "../emulator-settings.js";
import {
  acceleratorCheck,
  diskCheck,
  dockerCheck,
  firmwareCheck,
  guestNetworkCheck,
  imageCheck,
  kvmCheck,
  portCheck,
  qemuBinaryCheck,
  qemuImgCheck,
} from "./doctor-checks.js";
import type { DoctorProbes } from "./doctor-probes.js";
import { DOCTOR_SCHEMA_VERSION, type DoctorCheck, type DoctorReport, overallVerdict } from "./doctor-report.js";

export async function runDoctor(
  settings: EmulatorSettings,
  probes: DoctorProbes,
  signal: AbortSignal,
): Promise<DoctorReport> {
  const host = probes.host();
  const { arch, home } = settings;
  const qemuPromise = probes.qemuBinary(arch);
  const [qemu, qemuImg, kvm, ports, disk, docker, image] = await Promise.all([
    qemuPromise,
    probes.qemuImg(),
    probes.kvm(),
    probes.ports(home, settings.ports),
    probes.disk(home),
    probes.docker(),
    probes.image(home, arch, signal),
  ]);
  const binary = qemu.ok ? qemu.value.path : undefined;
  const [firmware, accel] = await Promise.all([
    probes.firmware(arch, binary),
    probes.accelerator(arch, binary, home, signal),
  ]);
  signal.throwIfAborted();

  const checks: DoctorCheck[] = [qemuBinaryCheck(arch, qemu), qemuImgCheck(qemuImg), firmwareCheck(arch, firmware)];
  // KVM matters only when the guest runs natively on a Linux host.
  const kvmRelevant = kvm !== null && arch === host.arch;
  const kvmResult = kvmRelevant ? kvmCheck(kvm, accel.ok ? accel.value : null) : null;
  checks.push(
    acceleratorCheck(
      accel,
      kvmResult?.fix ??
        (arch !== host.arch
          ? `A ${arch} guest on a ${host.arch} host always runs under TCG; use a ${arch} machine for speed.`
          : null),
    ),
  );
  if (kvmResult !== null) checks.push(kvmResult.check);
  checks.push(...ports.map(portCheck), diskCheck(disk), dockerCheck(docker), imageCheck(image));
  checks.push(guestNetworkCheck(settings.guestNetwork, settings.sources.guestNetwork));

  return {
    schemaVersion: DOCTOR_SCHEMA_VERSION,
    verdict: overallVerdict(checks),
    host: { os: host.os, arch: host.arch, cpus: host.cpus, memoryMb: host.memoryMb },
    arch,
    home,
    checks,
  };
}
