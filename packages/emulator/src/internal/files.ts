/** The two file reads the use cases share: does a path exist, and a log file's last lines. */
import { access, open } from "node:fs/promises";

export const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** Last `lines` lines of a text file (reads at most the last 64 KiB); empty when it cannot be read. */
export async function tailLines(path: string, lines: number): Promise<string[]> {
  try {
    const handle = await open(path, "r");
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, 64 * 1024);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      const text = buffer.toString("utf8").replace(/\r/g, "");
      return text
        .split("\n")
        .filter((l) => l !== "")
        .slice(-lines);
    } finally {
      await handle.close();
    }
  } catch {
    return [];
  }
}
