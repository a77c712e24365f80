/** Small reads of an instance's files: whether one exists, the end of a log. */
import { readFile, stat } from "node:fs/promises";

export async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/** The last `bytes` characters of a text file, or "" when it cannot be read. */
export async function tailFile(file: string, bytes: number): Promise<string> {
  try {
    const text = await readFile(file, "utf8");
    return text.slice(-bytes);
  } catch {
    return "";
  }
}
