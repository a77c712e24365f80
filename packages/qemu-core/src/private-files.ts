/**
 * A VM instance's directory is private to its user: directories 0700 (the instance's root too), and the files
 * that hold guest data (the overlay disk, the saved RAM state, the serial
 * log, QEMU's log) 0600. A saved RAM state is a memory dump holding every
 * secret of the guest; another local user must not read it.
 */
import { chmod, mkdir, open, stat } from "node:fs/promises";

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dir` (and missing parents) 0700, and tightens an existing `dir` that others could read. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const info = await stat(dir);
  if ((info.mode & 0o077) !== 0) await chmod(dir, PRIVATE_DIR_MODE);
}

/**
 * Creates `file` empty with mode 0600 if missing, and sets 0600 if present:
 * a program that later opens it with O_CREAT|O_TRUNC (QEMU's serial chardev,
 * `cat >` of a state save) keeps that mode.
 */
export async function ensurePrivateFile(file: string): Promise<void> {
  const handle = await open(file, "a", PRIVATE_FILE_MODE);
  try {
    await handle.chmod(PRIVATE_FILE_MODE);
  } finally {
    await handle.close();
  }
}

/** Sets 0600 on an existing file; nothing when it does not exist. */
export async function makeFilePrivate(file: string): Promise<void> {
  await chmod(file, PRIVATE_FILE_MODE).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT") throw error;
  });
}
