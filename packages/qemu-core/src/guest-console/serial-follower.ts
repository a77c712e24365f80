/**
 * Follows a growing serial log file line by line (QEMU writes the guest
 * console to it), keeping the last lines for error messages.
 */
import { open } from "node:fs/promises";

/** Splits a chunk into complete lines, carrying the unfinished rest. Pure. */
export function splitLines(carry: string, chunk: string): { lines: string[]; carry: string } {
  const text = carry + chunk;
  const parts = text.split("\n");
  const rest = parts.pop() ?? "";
  return { lines: parts.map((l) => l.replace(/\r$/, "")), carry: rest };
}

export class SerialFollower {
  readonly #path: string;
  readonly #onLine: (line: string) => void;
  readonly #tail: string[] = [];
  readonly #tailSize: number;
  #offset = 0;
  #carry = "";
  #timer: NodeJS.Timeout | undefined;
  #reading = false;

  constructor(path: string, onLine: (line: string) => void, options: { tailSize?: number } = {}) {
    this.#path = path;
    this.#onLine = onLine;
    this.#tailSize = options.tailSize ?? 40;
  }

  /** The last lines read (the unfinished one included). */
  tail(): string[] {
    return this.#carry === "" ? [...this.#tail] : [...this.#tail, this.#carry];
  }

  start(intervalMs = 250): void {
    this.#timer = setInterval(() => void this.poll(), intervalMs);
  }

  /** Reads whatever was appended since the last call. */
  async poll(): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    try {
      const handle = await open(this.#path, "r").catch(() => undefined);
      if (handle === undefined) return;
      try {
        const buffer = Buffer.alloc(64 * 1024);
        for (;;) {
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.#offset);
          if (bytesRead === 0) break;
          this.#offset += bytesRead;
          const { lines, carry } = splitLines(this.#carry, buffer.subarray(0, bytesRead).toString("utf8"));
          this.#carry = carry;
          for (const line of lines) {
            this.#tail.push(line);
            if (this.#tail.length > this.#tailSize) this.#tail.shift();
            this.#onLine(line);
          }
        }
      } finally {
        await handle.close();
      }
    } finally {
      this.#reading = false;
    }
  }

  /** Stops polling after a last read. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    while (this.#reading) await new Promise((r) => setTimeout(r, 20));
    await this.poll();
  }
}
