/** Typed events of the file bridge (a discriminated union on `type`). The bridge never prints. */

/** Why a request was refused (or failed); absent on success. */
export type FileBridgeRefusal =
  | "unauthorized"
  | "not-found"
  | "method-not-allowed"
  | "bad-request"
  | "bad-encoding"
  | "bad-character"
  | "empty-segment"
  | "too-long"
  | "traversal"
  | "absolute"
  | "symlink-escape"
  | "symlink-dangling"
  | "permission-denied"
  | "too-large"
  | "is-directory"
  | "not-a-directory"
  | "not-regular-file"
  | "no-space"
  /** A write outside what `--bridge-writable` grants (the default: nothing but `/v1/config`). */
  | "read-only"
  /** A write to version-control metadata, hooks or tool directories: never allowed. */
  | "protected-path"
  /** More requests in flight than the bridge serves at once. */
  | "busy"
  | "internal-error";

export type FileBridgeEvent =
  | { readonly type: "file-bridge-listening"; readonly url: string; readonly port: number; readonly root: string }
  /** One per request, when its response is finished (or its connection closed). The token is never logged. */
  | {
      readonly type: "file-bridge-request";
      readonly method: string;
      /** The request path as received (still percent-encoded, without the query string). */
      readonly path: string;
      readonly status: number;
      /** Body bytes read (PUT) or sent (GET). */
      readonly bytes: number;
      readonly durationMs: number;
      readonly refusal?: FileBridgeRefusal;
    }
  /** An unexpected failure behind a 500 answer. */
  | { readonly type: "file-bridge-error"; readonly method: string; readonly path: string; readonly message: string }
  | { readonly type: "file-bridge-closed" };

export type FileBridgeEventListener = (event: FileBridgeEvent) => void;
