/**
 * What every use case of one emulator instance shares: where it lives, its
 * `VmInstance`, the environment it reads defaults from, and the tools it is
 * given. Built once by the `Emulator` facade; use cases are functions of
 * `(ctx, options)`.
 */
import { join } from "node:path";
import { createQemuImg, type InstancePaths, instancePaths, type QemuImg, VmInstance } from "@hexclave/qemu-core";
import type { EmulatorEvent } from "./events.js";
import {
  DEFAULT_INSTANCE,
  EMULATOR_START_LOCK_FILE,
  emulatorHome,
  probeCacheDir,
  SNAPSHOT_RECORD_FILE,
} from "./layout.js";

export type Env = Readonly<Record<string, string | undefined>>;

/** How long a use case waits for the guest agent to answer before it goes on without it. */
export const GUEST_AGENT_TIMEOUT_MS = 5_000;

export interface CreateEmulatorOptions {
  /** The emulator home; default `HEXCLAVE_EMULATOR_HOME` or `~/.hexclave/emulator`. */
  readonly home?: string;
  /** Instance name under `run/`; default `vm`. */
  readonly instance?: string;
  /** Environment for defaults (`EMULATOR_*`); default `process.env`. */
  readonly env?: Env;
  /** qemu-img wrapper (tests). */
  readonly qemuImg?: QemuImg;
  /** The KVM device the accelerator probe checks; default `/dev/kvm` (tests point it elsewhere). */
  readonly kvmDevice?: string;
}

export interface EmulatorContext {
  readonly home: string;
  readonly instanceName: string;
  readonly env: Env;
  readonly vm: VmInstance;
  readonly img: QemuImg;
  readonly kvmDevice: string | undefined;
  readonly paths: InstancePaths;
  /** The snapshot record file of this instance. */
  readonly recordFile: string;
  /** The lock a start holds while it runs ({@link EMULATOR_START_LOCK_FILE}). */
  readonly startLockFile: string;
  /** The accelerator probe's cache (`<home>/cache`). */
  readonly probeCacheDir: string;
}

export function createEmulatorContext(options: CreateEmulatorOptions = {}): EmulatorContext {
  const env = options.env ?? process.env;
  const home = options.home ?? emulatorHome(env);
  const instanceName = options.instance ?? DEFAULT_INSTANCE;
  const img = options.qemuImg ?? createQemuImg();
  const paths = instancePaths(home, instanceName);
  return {
    home,
    instanceName,
    env,
    vm: new VmInstance({ home, name: instanceName, qemuImg: img }),
    img,
    kvmDevice: options.kvmDevice,
    paths,
    recordFile: join(paths.dir, SNAPSHOT_RECORD_FILE),
    startLockFile: join(paths.dir, EMULATOR_START_LOCK_FILE),
    probeCacheDir: probeCacheDir(home),
  };
}

/** Where a use case sends its progress events. */
export type Emit = (e: EmulatorEvent) => void;
