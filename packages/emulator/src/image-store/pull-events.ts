/** Progress events of {@link pullImage}; a discriminated union on `type`. */
import type { ReleaseFileRole } from "@hexclave/image-builder/release";

export type PullStage = "resolve" | "download" | "install";
export type PullFileRole = ReleaseFileRole | "manifest";

export type PullEvent =
  /** The release chosen: where from, which version. */
  | {
      readonly type: "pull-release";
      readonly source: string;
      readonly sourceKind: "github" | "url" | "directory";
      readonly version: string;
      readonly channel?: string;
    }
  | { readonly type: "stage-start"; readonly stage: PullStage; readonly label: string }
  | { readonly type: "stage-end"; readonly stage: PullStage; readonly durationMs: number; readonly detail?: string }
  /** One file begins (`state: "start"`) or is verified (`"done"`; `reused`: a verified copy was already staged). */
  | {
      readonly type: "pull-file";
      readonly state: "start" | "done";
      readonly role: PullFileRole;
      readonly name: string;
      readonly size: number | undefined;
      readonly reused?: boolean;
    }
  /** Bytes over all files of the pull (`total` undefined when a size is unknown). */
  | {
      readonly type: "download-progress";
      readonly file: string;
      readonly transferred: number;
      readonly total: number | undefined;
      readonly bytesPerSecond: number;
      readonly etaSeconds: number | undefined;
    }
  | { readonly type: "download-resumed"; readonly file: string; readonly from: number }
  | { readonly type: "download-restarted"; readonly file: string; readonly reason: string }
  | { readonly type: "download-retry"; readonly file: string; readonly attempt: number; readonly reason: string }
  | { readonly type: "message"; readonly level: "info" | "warn"; readonly text: string };
