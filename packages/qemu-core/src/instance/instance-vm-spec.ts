/**
 * The full VM spec an instance runs (pure): the caller's spec plus the
 * instance's own files (QMP and guest agent sockets, serial log, pidfile),
 * the overlay as the first drive when a backing image is given, and how the
 * guest resumes (`-loadvm` or `-incoming`). `start` launches exactly this;
 * a caller hashing what start launches (a fingerprint) uses it too.
 */
import type { InstancePaths } from "../instance-layout.js";
import type { DriveSpec, VmSpec } from "../vm-spec.js";
import { INCOMING_DEFERRED, stateFileLoadUri } from "./state-file.js";

/** The VM spec a caller gives: the instance fills QMP socket, pidfile, serial log, guest agent socket, daemonize and loadvm. */
export type InstanceVmSpec = Omit<
  VmSpec,
  "qmpSocket" | "pidFile" | "serial" | "guestAgentSocket" | "daemonize" | "loadvm" | "incoming" | "name"
> & { readonly name?: string };

export interface InstanceVmSpecOptions {
  /** The instance's name: the VM's name unless the spec names it. */
  readonly instanceName: string;
  /** Attach the overlay (`paths.overlay`) as the first drive, unless a spec drive already names it. */
  readonly overlay?: boolean;
  /** Resume this internal snapshot (`-loadvm`). */
  readonly loadvm?: string;
  /** Resume this state file (`-incoming`). */
  readonly incomingStateFile?: string;
}

/** The overlay's drive when the instance attaches it. */
export const OVERLAY_DRIVE = { id: "disk", format: "qcow2", discard: true } as const;

export function instanceVmSpec(paths: InstancePaths, spec: InstanceVmSpec, options: InstanceVmSpecOptions): VmSpec {
  let drives: readonly DriveSpec[] = spec.drives ?? [];
  if (options.overlay === true && !drives.some((d) => d.file === paths.overlay)) {
    drives = [{ ...OVERLAY_DRIVE, file: paths.overlay }, ...drives];
  }
  return {
    ...spec,
    name: spec.name ?? options.instanceName,
    drives,
    qmpSocket: paths.qmpSocket,
    guestAgentSocket: paths.guestAgentSocket,
    serial: { file: paths.serialLog },
    pidFile: paths.pidFile,
    ...(options.loadvm !== undefined ? { loadvm: options.loadvm } : {}),
    // A VM with a memory file loads its devices only: the stream waits for `x-ignore-shared` (finishIncoming).
    ...(options.incomingStateFile !== undefined
      ? { incoming: spec.memoryFile !== undefined ? INCOMING_DEFERRED : stateFileLoadUri(options.incomingStateFile) }
      : {}),
  };
}
