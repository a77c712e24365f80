/**
 * Packs a Docker build context directory into a tar stream, honouring its
 * `.dockerignore` (Docker's matching rules, via @balena/dockerignore). The
 * Dockerfile and `.dockerignore` are always sent, as the Docker CLI does; a
 * Dockerfile outside the context is added under a generated name.
 */
import { readFile } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import dockerignoreModule from "@balena/dockerignore";
import { type PackOptions, pack } from "tar-fs";

type DockerignoreFactory = typeof import("@balena/dockerignore")["default"];
// The package is CommonJS (`module.exports = factory`) but its types declare a default export.
const dockerignore = ((dockerignoreModule as unknown as { default?: DockerignoreFactory }).default ??
  dockerignoreModule) as DockerignoreFactory;

export interface PackedContext {
  readonly stream: Readable;
  /** The Dockerfile's path inside the tar, for the build's `dockerfile` option. */
  readonly dockerfile: string;
}

/** The `.dockerignore` patterns of a context (none when the file is missing). */
export async function readDockerignore(contextDir: string): Promise<string[]> {
  try {
    return (await readFile(resolve(contextDir, ".dockerignore"), "utf8")).split(/\r?\n/);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/** A predicate on context-relative POSIX paths: true when `.dockerignore` excludes it. */
export function dockerignoreFilter(
  patterns: readonly string[],
  alwaysKeep: readonly string[],
): (rel: string) => boolean {
  const cleaned = patterns
    .map((p) => p.trim())
    .filter((p) => p !== "" && !p.startsWith("#"))
    .map((p) => p.replace(/^(!?)\/+/, "$1"));
  const matcher = dockerignore({ ignorecase: false }).add(cleaned);
  const keep = new Set(alwaysKeep);
  return (rel) => rel !== "" && !keep.has(rel) && matcher.ignores(rel);
}

export async function packBuildContext(contextDir: string, dockerfilePath: string): Promise<PackedContext> {
  const context = resolve(contextDir);
  const dockerfileAbs = resolve(context, dockerfilePath);
  const relDockerfile = relative(context, dockerfileAbs).split(sep).join("/");
  const inside = !relDockerfile.startsWith("../") && !isAbsolute(relDockerfile);
  const dockerfile = inside ? relDockerfile : ".hexclave.Dockerfile";
  const ignored = dockerignoreFilter(await readDockerignore(context), [dockerfile, ".dockerignore"]);
  const outsideContent = inside ? undefined : await readFile(dockerfileAbs);
  const packOptions: PackOptions & { sort: boolean } = {
    ignore: (name: string) => ignored(relative(context, name).split(sep).join("/")),
    sort: true,
    map: (header) => ({ ...header, uid: 0, gid: 0, uname: "root", gname: "root" }),
    ...(outsideContent === undefined
      ? {}
      : {
          finalize: false,
          finish: (p) => {
            p.entry({ name: dockerfile, mode: 0o644 }, outsideContent);
            p.finalize();
          },
        }),
  };
  const stream = pack(context, packOptions);
  return { stream, dockerfile };
}
