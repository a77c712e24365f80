/** Progress events of {@link downloadVerified}; a discriminated union on `type`. */
export type DownloadEvent =
  | { readonly type: "download-lock-wait"; readonly lockPath: string; readonly holder: string }
  | {
      readonly type: "download-started";
      readonly url: string;
      readonly from: number;
      readonly total: number | undefined;
    }
  | {
      readonly type: "download-progress";
      /** Bytes in the file so far, a resumed prefix included. */
      readonly transferred: number;
      readonly total: number | undefined;
      readonly bytesPerSecond: number;
      readonly etaSeconds: number | undefined;
    }
  | { readonly type: "download-resumed"; readonly from: number }
  | { readonly type: "download-restarted"; readonly reason: string }
  | { readonly type: "download-retry"; readonly attempt: number; readonly reason: string }
  | { readonly type: "download-done"; readonly path: string; readonly size: number; readonly reused: boolean };

export type DigestAlgorithm = "sha256" | "sha512";

export interface ExpectedDigest {
  readonly algorithm: DigestAlgorithm;
  /** Hex digest, any case. */
  readonly hex: string;
}
