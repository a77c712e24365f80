/**
 * A process for the lock race test (file-lock.integration.test.ts). It reads
 * commands from stdin, one per line, and answers one line each on stdout:
 *
 * - `race <lock> <inside-dir>`: takes the lock (waiting), proves it is alone
 *   by creating `<inside-dir>` (mkdir is atomic: EEXIST means a second holder
 *   is inside), holds it a few milliseconds, leaves, releases; answers `ok`,
 *   `double`, or `error <code>` when taking the lock failed.
 * - `hold <lock>`: takes the lock (refusing at once) and keeps it; answers
 *   `held` or `refused <code>`.
 */
import { mkdir, rmdir } from "node:fs/promises";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { acquireLock, type HeldLock } from "../src/file-lock.js";

const kept: HeldLock[] = [];
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const [command, lock, inside] = line.split(" ");
  if (command === "race" && lock !== undefined && inside !== undefined) {
    let answer = "ok";
    try {
      const held = await acquireLock(lock, { purpose: "race", waitMs: Number.POSITIVE_INFINITY, pollMs: 5 });
      try {
        await mkdir(inside);
      } catch {
        answer = "double";
      }
      await sleep(2 + Math.random() * 6);
      if (answer === "ok") await rmdir(inside);
      await held.release();
    } catch (error) {
      answer = `error ${(error as { code?: string }).code ?? (error as Error).message}`;
    }
    process.stdout.write(`${answer}\n`);
  } else if (command === "hold" && lock !== undefined) {
    try {
      kept.push(await acquireLock(lock, { purpose: "hold" }));
      process.stdout.write("held\n");
    } catch (error) {
      process.stdout.write(`refused ${(error as { code?: string }).code ?? "unknown"}\n`);
    }
  } else {
    process.stdout.write(`unknown command: ${line}\n`);
  }
}
