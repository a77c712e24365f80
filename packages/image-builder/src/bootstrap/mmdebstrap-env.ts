/**
 * The environment mmdebstrap runs in. Its helpers (mmtarfilter, run once per
 * package while extracting) are python3 scripts started through PATH: with a
 * version manager's shim first on PATH (pyenv, asdf), every package paid the
 * shim's start-up, which made extraction about four times slower on a loaded
 * 2-core host (1060 s against 225 s to the install phase). The system's own
 * directories come first; the rest of PATH follows.
 */
export const SYSTEM_PATH_DIRS: readonly string[] = [
  "/usr/local/sbin",
  "/usr/local/bin",
  "/usr/sbin",
  "/usr/bin",
  "/sbin",
  "/bin",
];

/** PATH with the system directories first, then the caller's other entries. Pure. */
export function systemFirstPath(path: string | undefined): string {
  const rest = (path ?? "").split(":").filter((dir) => dir !== "" && !SYSTEM_PATH_DIRS.includes(dir));
  return [...SYSTEM_PATH_DIRS, ...rest].join(":");
}

/** Environment overrides for mmdebstrap and the tools it runs. */
export function mmdebstrapEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return { LC_ALL: "C.UTF-8", PATH: systemFirstPath(env.PATH) };
}
