/**
 * The CLI's one yes/no question (`stack emulator reset` without `--yes`),
 * through `node:readline/promises`: `question? [y/N] `, default no. Ctrl-C
 * while asking, end of input or an aborted signal all answer no.
 */
import { createInterface } from "node:readline/promises";

export interface ConfirmStreams {
  readonly input: NodeJS.ReadableStream;
  /** Where the question goes (stderr, so stdout keeps only results). */
  readonly output: NodeJS.WritableStream;
  readonly signal?: AbortSignal | undefined;
}

const YES = /^\s*y(es)?\s*$/i;

export async function confirmOnTerminal(question: string, streams: ConfirmStreams): Promise<boolean> {
  const rl = createInterface({ input: streams.input, output: streams.output, terminal: false });
  const cancelled = new AbortController();
  const cancel = () => cancelled.abort();
  // On a terminal readline reads Ctrl-C as a key and emits SIGINT on the interface, not on the process.
  rl.on("SIGINT", cancel);
  rl.on("close", cancel);
  streams.signal?.addEventListener("abort", cancel, { once: true });
  try {
    const answer = await rl.question(`${question} [y/N] `, { signal: cancelled.signal });
    return YES.test(answer);
  } catch (error) {
    if (cancelled.signal.aborted) {
      streams.output.write("\n");
      return false;
    }
    throw error;
  } finally {
    streams.signal?.removeEventListener("abort", cancel);
    rl.close();
  }
}
