/**
 * `warmBoot()`: the provisioning boot. A qcow2 overlay on the base, grown to
 * the disk size; the cloud-init seed (a `cidata` ISO on a read-only raw
 * virtio drive: NoCloud) and the payload tarball (a read-only raw virtio
 * drive with serial `payload`); QEMU with direct kernel boot under the probed
 * accelerator. The serial console is followed: stage markers become events;
 * a failure marker, QEMU exiting before the done marker, the deadline or an
 * abort stop the boot at once (QEMU killed) with the failing stage and the
 * last serial lines. A guest kernel that panics (rare, under TCG) makes QEMU
 * exit at once (a direct kernel boot has `panic=-1` and `-no-reboot`; a
 * firmware boot's kernel, whose command line the image's boot loader sets,
 * would hang, so QEMU is killed when its console shows the panic); the boot
 * is then tried again once from a new overlay.
 * QEMU's run state (over its QMP socket) and its own output (qemu.log in the
 * work directory) are watched too: a VM that QEMU stops in an error state
 * (`KVM internal error`, run state `internal-error`) fails the boot within
 * seconds with `EMULATOR_VM_FAILED` and QEMU's words (see
 * accelerator-fallback.ts: the build then retries under TCG).
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Accelerator,
  type Arch,
  buildQemuArgs,
  type DriveSpec,
  detectHost,
  HexclaveError,
  kernelPanicReason,
  QmpClient,
  qemuImg,
  SerialFollower,
  type VmSpec,
  watchQemuRun,
  withRebootOnPanic,
  writeIso,
} from "@hexclave/qemu-core";
import { execa } from "execa";
import { vmFailedError } from "../accelerator-fallback.js";
import { imageBuilderErrors } from "../errors-data.js";
import type { ProfileService } from "../profiles.js";
import { parseMarker } from "../provisioning/markers.js";
import { PAYLOAD_DRIVE_SERIAL, provisioningSeed } from "../provisioning/user-data.js";

export type WarmBootEvent =
  | {
      readonly type: "warm-boot-started";
      readonly accel: Accelerator;
      readonly cpus: number;
      readonly memoryMb: number;
      readonly serialLog: string;
      readonly pid: number | undefined;
    }
  | {
      readonly type: "warm-boot-stage";
      readonly stage: string;
      readonly elapsedMs: number;
      readonly guestUptimeSeconds?: number;
    }
  | { readonly type: "warm-boot-healthy"; readonly service: string; readonly elapsedMs: number }
  | { readonly type: "warm-boot-serial"; readonly line: string }
  | { readonly type: "warm-boot-done"; readonly elapsedMs: number }
  | {
      /** The guest kernel panicked: the boot starts again from a new overlay (`attempt` counts from 1). */
      readonly type: "warm-boot-retry";
      readonly attempt: number;
      readonly reason: string;
      /** The failed attempt's serial log, kept. */
      readonly serialLog: string;
    };

/** How the base boots: its own kernel directly (bootstrap), or firmware and the disk's bootloader (cloud). */
export type WarmBootBoot =
  | { readonly kind: "kernel"; readonly kernel: string; readonly initrd: string; readonly append: string }
  | { readonly kind: "firmware"; readonly code?: string | undefined };

export interface WarmBootBase {
  readonly image: string;
  readonly boot: WarmBootBoot;
  /** The root partition on /dev/vda (cloud images: 1); none for a whole-disk file system. */
  readonly rootPartition?: number | undefined;
  /** Packages the guest installs first (a cloud base has no Docker). */
  readonly installPackages?: readonly string[] | undefined;
}

export interface WarmBootOptions {
  readonly arch: Arch;
  /** The base disk (qcow2) and how it boots. */
  readonly base: WarmBootBase;
  /** The payload tarball (`docker save` output) and what it holds. */
  readonly payload: { readonly tarball: string; readonly imageId: string; readonly tag: string };
  readonly services: readonly ProfileService[];
  /** A directory for the disk, seed, serial log and sockets (the caller removes it). */
  readonly workDir: string;
  readonly accel: Accelerator;
  /** Default 12. */
  readonly diskSizeGb?: number | undefined;
  /** Default the host's CPUs. */
  readonly cpus?: number | undefined;
  /** Default 4096. */
  readonly memoryMb?: number | undefined;
  /** The whole boot's deadline; default 30 minutes. */
  readonly deadlineMs?: number | undefined;
  /** How many times a boot whose guest kernel panicked is started again; default 1. */
  readonly panicRetries?: number | undefined;
  /** Trim free space at the end (default true; false only for measurements). */
  readonly trim?: boolean | undefined;
  /** How long the guest waits for its health checks; default 900 s. */
  readonly healthTimeoutSeconds?: number | undefined;
  /** The container runs migrations and seed once in this boot (the hexclave profile; provisioning/runtime-env.ts). */
  readonly runBuildMigrations?: boolean | undefined;
  /** The guest supervisor's start deadlines are multiplied by it (a guest of another arch: 3); default 1. */
  readonly startTimeoutFactor?: number | undefined;
  /** QEMU binary; default `qemu-system-x86_64` / `qemu-system-aarch64` from PATH. */
  readonly qemuBinary?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((event: WarmBootEvent) => void) | undefined;
}

export interface WarmBootResult {
  /** The provisioned disk: a qcow2 overlay on the base (compaction flattens it). */
  readonly disk: string;
  readonly serialLog: string;
  readonly durationMs: number;
  /** Milliseconds from QEMU's start to each stage marker. */
  readonly stages: Readonly<Record<string, number>>;
}

export const DEFAULT_DISK_SIZE_GB = 12;
export const DEFAULT_BUILD_MEMORY_MB = 4096;
export const DEFAULT_WARM_BOOT_DEADLINE_MS = 30 * 60_000;
const POWEROFF_GRACE_MS = 120_000;

/** The build VM's spec (pure). */
export function warmBootVmSpec(input: {
  arch: Arch;
  accel: Accelerator;
  cpus: number;
  memoryMb: number;
  disk: string;
  seed: string;
  payload: string;
  boot: WarmBootBoot;
  serialLog: string;
  /** QMP socket, watched for the run state. */
  qmpSocket?: string;
}): VmSpec {
  const drives: DriveSpec[] = [
    // Discards from fstrim punch holes in the overlay: free space is zero clusters, skipped by compaction.
    { id: "disk", file: input.disk, format: "qcow2", discard: true, cache: "unsafe" },
    { id: "seed", file: input.seed, format: "raw", readOnly: true },
    { id: "payload", file: input.payload, format: "raw", readOnly: true, serial: PAYLOAD_DRIVE_SERIAL },
  ];
  return {
    name: "hexclave-image-build",
    arch: input.arch,
    accel: input.accel,
    cpus: input.cpus,
    memoryMb: input.memoryMb,
    drives,
    ...(input.boot.kind === "kernel"
      ? {
          // A kernel panic (or Oops) reboots at once, and -no-reboot turns that into QEMU exiting: a quick failure.
          kernelBoot: {
            kernel: input.boot.kernel,
            initrd: input.boot.initrd,
            append: withRebootOnPanic(input.boot.append),
          },
        }
      : input.boot.code !== undefined
        ? { firmware: { code: input.boot.code } }
        : {}),
    network: { kind: "user", forwards: [] },
    serial: { file: input.serialLog },
    ...(input.qmpSocket === undefined ? {} : { qmpSocket: input.qmpSocket }),
    noReboot: true,
    rng: true,
  };
}

function stageError(
  code: "WARM_BOOT_FAILED" | "WARM_BOOT_TIMEOUT",
  message: string,
  where: { readonly failing: string } | { readonly lastReached: string },
  tail: readonly string[],
  serialLog: string,
  kernelPanic?: string,
): HexclaveError {
  const [label, stage] =
    "failing" in where ? ["failing stage", where.failing] : ["last stage reached", where.lastReached];
  return imageBuilderErrors.create(code, `${message} (${label}: ${stage})\nLast serial lines:\n${tail.join("\n")}`, {
    details: {
      stage,
      ...("failing" in where ? {} : { lastReached: true }),
      serialLog,
      tail,
      ...(kernelPanic === undefined ? {} : { kernelPanic }),
    },
  });
}

/** The panic reason of a warm boot that failed because its guest kernel panicked; undefined otherwise. */
export function warmBootKernelPanic(error: unknown): string | undefined {
  if (!HexclaveError.is(error) || error.code !== "WARM_BOOT_FAILED") return undefined;
  const reason = error.details.kernelPanic;
  return typeof reason === "string" ? reason : undefined;
}

/** Boots the base once to provision it (again, from a new overlay, after a guest kernel panic); see the module comment. */
export async function warmBoot(options: WarmBootOptions): Promise<WarmBootResult> {
  const retries = options.panicRetries ?? 1;
  if (!Number.isInteger(retries) || retries < 0)
    throw imageBuilderErrors.create(
      "BUILD_INPUT_INVALID",
      `panicRetries must be a whole number >= 0, got ${String(options.panicRetries)}`,
    );
  for (let attempt = 1; ; attempt++) {
    try {
      return await warmBootOnce(options);
    } catch (error) {
      const panic = warmBootKernelPanic(error);
      if (panic === undefined || attempt > retries || options.signal?.aborted === true) throw error;
      const kept = join(options.workDir, `serial.attempt-${attempt}.log`);
      await rename(join(options.workDir, "serial.log"), kept).catch(() => {});
      await rm(join(options.workDir, "disk.qcow2"), { force: true });
      options.onEvent?.({ type: "warm-boot-retry", attempt: attempt + 1, reason: panic, serialLog: kept });
    }
  }
}

async function warmBootOnce(options: WarmBootOptions): Promise<WarmBootResult> {
  const { arch, signal, workDir } = options;
  const emit = options.onEvent ?? (() => {});
  signal?.throwIfAborted();
  await mkdir(workDir, { recursive: true });
  const disk = join(workDir, "disk.qcow2");
  const seed = join(workDir, "seed.iso");
  const serialLog = join(workDir, "serial.log");
  const qemuLog = join(workDir, "qemu.log");
  // A unix socket path has at most 107 bytes: a deep work directory gets a short one of its own.
  const socketDir = join(workDir, "qmp.sock").length <= 100 ? undefined : await mkdtemp(join(tmpdir(), "hx-wb-"));
  const qmpSocket = join(socketDir ?? workDir, "qmp.sock");
  const sizeGb = options.diskSizeGb ?? DEFAULT_DISK_SIZE_GB;
  if (!Number.isInteger(sizeGb) || sizeGb < 2)
    throw imageBuilderErrors.create(
      "BUILD_INPUT_INVALID",
      `diskSizeGb must be a whole number of GiB >= 2, got ${sizeGb}`,
    );

  // The overlay is created at the full disk size: the guest grows its file system online (resize2fs).
  await qemuImg.createOverlay({
    file: disk,
    backingFile: options.base.image,
    backingFormat: "qcow2",
    size: `${sizeGb}G`,
    ...(signal ? { signal } : {}),
  });
  const files = provisioningSeed({
    imageTag: options.payload.tag,
    imageId: options.payload.imageId,
    services: options.services,
    healthTimeoutSeconds: options.healthTimeoutSeconds ?? 900,
    instanceId: `hexclave-build-${randomBytes(6).toString("hex")}`,
    ...(options.trim === false ? { trim: false } : {}),
    ...(options.runBuildMigrations === true ? { runBuildMigrations: true } : {}),
    ...(options.startTimeoutFactor === undefined ? {} : { startTimeoutFactor: options.startTimeoutFactor }),
    ...(options.base.rootPartition === undefined ? {} : { rootPartition: options.base.rootPartition }),
    ...(options.base.installPackages === undefined ? {} : { installPackages: options.base.installPackages }),
  });
  await writeIso(seed, {
    volumeId: "cidata",
    files: Object.entries(files).map(([name, content]) => ({ name, content })),
  });

  const cpus = options.cpus ?? detectHost().cpus;
  const memoryMb = options.memoryMb ?? DEFAULT_BUILD_MEMORY_MB;
  const spec = warmBootVmSpec({
    arch,
    accel: options.accel,
    cpus,
    memoryMb,
    disk,
    seed,
    payload: options.payload.tarball,
    boot: options.base.boot,
    serialLog,
    qmpSocket,
  });
  const args = buildQemuArgs(spec, { hostArch: detectHost().arch });
  const binary = options.qemuBinary ?? (arch === "amd64" ? "qemu-system-x86_64" : "qemu-system-aarch64");

  const started = Date.now();
  const stages: Record<string, number> = {};
  const healthy = new Set<string>();
  let stage = "kernel-boot";
  let outcome: { kind: "done" } | { kind: "failed"; stage: string; exitCode?: number } | undefined;
  let wake: () => void = () => {};
  const changed = () => wake();

  let kernelPanic: string | undefined;
  // A kernel booted by firmware runs its boot loader's command line (no panic=): after a panic it hangs, so QEMU is
  // killed once at the panic line. A direct kernel boot has panic=-1 and -no-reboot: QEMU exits by itself.
  const killOnPanic = options.base.boot.kind !== "kernel";
  let panicKilled = false;
  const follower = new SerialFollower(serialLog, (line) => {
    emit({ type: "warm-boot-serial", line });
    if (kernelPanic === undefined) {
      kernelPanic = kernelPanicReason(line);
      if (kernelPanic !== undefined && killOnPanic) changed();
    }
    const marker = parseMarker(line);
    if (marker === undefined) return;
    const elapsedMs = Date.now() - started;
    if (marker.kind === "stage") {
      // The guest prints each marker on the console and in cloud-init's output (which may reach the console too).
      if (stages[marker.stage] !== undefined) return;
      stages[marker.stage] = elapsedMs;
      stage = marker.stage;
      emit({
        type: "warm-boot-stage",
        stage: marker.stage,
        elapsedMs,
        ...(marker.uptimeSeconds === undefined ? {} : { guestUptimeSeconds: marker.uptimeSeconds }),
      });
    } else if (marker.kind === "healthy") {
      if (healthy.has(marker.service)) return;
      healthy.add(marker.service);
      emit({ type: "warm-boot-healthy", service: marker.service, elapsedMs });
    } else if (marker.kind === "failed") {
      outcome = {
        kind: "failed",
        stage: marker.stage,
        ...(marker.exitCode === undefined ? {} : { exitCode: marker.exitCode }),
      };
      changed();
    } else {
      if (stages.done !== undefined) return;
      stages.done = elapsedMs;
      outcome = { kind: "done" };
      emit({ type: "warm-boot-done", elapsedMs });
      changed();
    }
  });

  // QEMU's stderr goes to a file the watch reads while it runs (its accelerator reports land there).
  const readOutput = () => readFile(qemuLog, "utf8").then((t) => t.slice(-16_000));
  const child = execa(binary, args, {
    reject: false,
    stdin: "ignore",
    stdout: "ignore",
    stderr: { file: qemuLog },
    forceKillAfterDelay: 3_000,
  });
  let exited: { code: number | undefined; signal: string | undefined; output: string } | undefined;
  void child.then(async (r) => {
    const output = (await readOutput().catch(() => "")).slice(-2000);
    exited = { code: r.exitCode, signal: r.signal, output };
    changed();
  });
  emit({ type: "warm-boot-started", accel: options.accel, cpus, memoryMb, serialLog, pid: child.pid });
  follower.start();
  // One QMP client for the whole boot (nobody else uses this socket): run-state events and polls.
  let qmp: QmpClient | undefined;
  const queryStatus = async () => {
    if (qmp?.connected !== true) qmp = await QmpClient.connect(qmpSocket, { timeoutMs: 2_000 });
    return qmp.queryStatus({ timeoutMs: 2_000 });
  };
  let vmFailure: HexclaveError | undefined;
  const watch = watchQemuRun({
    queryStatus,
    readOutput,
    pollMs: 1000,
    ...(signal ? { signal } : {}),
  });
  void watch.failure.then((failure) => {
    if (failure === undefined || exited !== undefined || outcome?.kind === "done") return;
    vmFailure = vmFailedError(`The provisioning VM stopped (stage: ${stage})`, {
      accel: options.accel,
      failure,
      detectedAfterMs: Date.now() - started,
    });
    changed();
  });

  const deadlineMs = options.deadlineMs ?? DEFAULT_WARM_BOOT_DEADLINE_MS;
  const deadline = setTimeout(changed, deadlineMs);
  const onAbort = () => changed();
  signal?.addEventListener("abort", onAbort);
  const killQemu = async () => {
    if (exited !== undefined) return;
    child.kill("SIGKILL");
    await child.catch(() => {});
  };
  try {
    for (;;) {
      const woke = new Promise<void>((resolve) => {
        wake = resolve;
      });
      const timedOut = Date.now() - started >= deadlineMs;
      if (signal?.aborted) {
        await killQemu();
        throw imageBuilderErrors.create("ABORTED", `The provisioning boot was aborted (stage: ${stage})`, {
          cause: signal.reason,
        });
      }
      if (vmFailure !== undefined && outcome === undefined) {
        await killQemu();
        await follower.stop();
        throw vmFailure;
      }
      if (outcome?.kind === "failed") {
        await killQemu();
        await follower.stop();
        const code = outcome.exitCode === undefined ? "" : ` with exit code ${outcome.exitCode}`;
        throw stageError(
          "WARM_BOOT_FAILED",
          `Provisioning failed in the guest${code}`,
          { failing: outcome.stage },
          follower.tail(),
          serialLog,
        );
      }
      if (outcome?.kind === "done") {
        // The guest powers off by itself; give it time, then make sure.
        const poweredOff = await Promise.race([
          child.then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), POWEROFF_GRACE_MS)),
        ]);
        if (!poweredOff) await killQemu();
        break;
      }
      if (kernelPanic !== undefined && killOnPanic && exited === undefined && !panicKilled) {
        // Once: QEMU's exit (and the panic failure below) follows when its process ends.
        panicKilled = true;
        await killQemu();
        continue;
      }
      if (exited !== undefined) {
        await follower.stop();
        if (outcome === undefined && kernelPanic !== undefined) {
          throw stageError(
            "WARM_BOOT_FAILED",
            `The guest kernel panicked (${kernelPanic}) before provisioning finished`,
            { lastReached: stage },
            follower.tail(),
            serialLog,
            kernelPanic,
          );
        }
        if (outcome === undefined) {
          const output = exited.output.trim();
          throw stageError(
            "WARM_BOOT_FAILED",
            `QEMU exited (code ${String(exited.code)}${exited.signal ? `, ${exited.signal}` : ""}) before provisioning finished${output ? `: ${output}` : ""}`,
            { lastReached: stage },
            follower.tail(),
            serialLog,
          );
        }
        continue;
      }
      if (timedOut) {
        await killQemu();
        await follower.stop();
        throw stageError(
          "WARM_BOOT_TIMEOUT",
          `Provisioning did not finish within ${Math.round(deadlineMs / 1000)} s`,
          { lastReached: stage },
          follower.tail(),
          serialLog,
        );
      }
      await woke;
    }
  } finally {
    clearTimeout(deadline);
    signal?.removeEventListener("abort", onAbort);
    watch.stop();
    qmp?.close();
    await killQemu();
    await follower.stop();
    if (socketDir !== undefined) await rm(socketDir, { recursive: true, force: true });
  }
  return { disk, serialLog, durationMs: Date.now() - started, stages };
}
