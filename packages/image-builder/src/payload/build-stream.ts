/**
 * Pure reading of the Docker engine's build stream (the JSON messages of
 * `POST /build`): log lines, the current `Step N/M : ...`, the built image ID
 * (`aux.ID`), and errors (`errorDetail`), told apart as registry failures or
 * ordinary build failures.
 */

export interface BuildStreamMessage {
  readonly stream?: string;
  readonly status?: string;
  readonly progress?: string;
  readonly id?: string;
  readonly error?: string;
  readonly errorDetail?: { readonly message?: string; readonly code?: number };
  readonly aux?: { readonly ID?: string };
}

export interface BuildStep {
  readonly index: number;
  readonly total: number;
  readonly instruction: string;
  /** The whole line, `Step 3/5 : RUN make`. */
  readonly line: string;
}

/** `Step 3/5 : RUN make` -> the step, or undefined for other lines. */
export function parseStepLine(line: string): BuildStep | undefined {
  const match = /^Step (\d+)\/(\d+) : (.*)$/.exec(line.trim());
  if (match === null) return undefined;
  return { index: Number(match[1]), total: Number(match[2]), instruction: match[3] ?? "", line: line.trim() };
}

const REGISTRY_PATTERNS: readonly RegExp[] = [
  /pull access denied/i,
  /failed to resolve/i,
  /dial tcp/i,
  /no such host/i,
  /TLS handshake timeout/i,
  /i\/o timeout/i,
  /Client\.Timeout/i,
  /request canceled while waiting for connection/i,
  /connection refused/i,
  /network is unreachable/i,
  /registry-1\.docker\.io/i,
  /manifest unknown/i,
  /repository does not exist/i,
  /Error response from daemon: Get "?https?:/i,
];

/** True when an engine error message is about reaching a registry (pulling an image). */
export function isRegistryError(message: string): boolean {
  return REGISTRY_PATTERNS.some((pattern) => pattern.test(message));
}

export interface BuildStreamState {
  readonly lastStep: BuildStep | undefined;
  readonly imageId: string | undefined;
  readonly error: string | undefined;
  /** The last log lines (at most 50), for error messages. */
  readonly tail: readonly string[];
}

export const initialBuildStreamState: BuildStreamState = {
  lastStep: undefined,
  imageId: undefined,
  error: undefined,
  tail: [],
};

/** Folds one message into the state; returns the new state and the log lines it carried. */
export function reduceBuildMessage(
  state: BuildStreamState,
  message: BuildStreamMessage,
): { state: BuildStreamState; lines: string[] } {
  const lines: string[] = [];
  if (typeof message.stream === "string") {
    for (const line of message.stream.split(/\r?\n/)) if (line.trim() !== "") lines.push(line.trimEnd());
  }
  if (typeof message.status === "string") {
    const parts = [message.id, message.status, message.progress].filter((p) => p !== undefined && p !== "");
    lines.push(parts.join(" "));
  }
  let { lastStep, imageId, error } = state;
  for (const line of lines) lastStep = parseStepLine(line) ?? lastStep;
  if (message.aux?.ID !== undefined) imageId = message.aux.ID;
  if (message.errorDetail !== undefined || message.error !== undefined) {
    error = (message.errorDetail?.message ?? message.error ?? "unknown error").trim();
    lines.push(error);
  }
  const tail = [...state.tail, ...lines].slice(-50);
  return { state: { lastStep, imageId, error, tail }, lines };
}
