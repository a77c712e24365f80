/**
 * What every use case of a VM instance works on: its name, its files, the
 * tools it runs, and its QMP connection. Built once by `VmInstance`.
 */
import type { CommandRunner } from "../command-runner.js";
import type { InstancePaths } from "../instance-layout.js";
import type { QemuImg } from "../qemu-img.js";
import type { InstanceConnection } from "./connection.js";

export interface InstanceContext {
  readonly name: string;
  /** Absolute: QEMU changes directory when it daemonizes, and the suspend save runs after that. */
  readonly home: string;
  readonly paths: InstancePaths;
  readonly runner: CommandRunner;
  readonly img: QemuImg;
  /** The qemu-system binary; undefined: `findQemuBinary(spec.arch)`. */
  readonly qemuBinary: string | undefined;
  readonly connection: InstanceConnection;
}
