/**
 * The offline stand-ins of docker/Dockerfile's upstream images, against the
 * real dockerd: every image the Dockerfile names gets tagged, a second call
 * builds nothing, and the program stand-ins refuse a broken contract loudly.
 */
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import {
  dockerfileImages,
  ensureHexclaveStandIns,
  type HexclaveStandIns,
  STAND_IN_LABEL,
} from "./hexclave-stand-ins.js";

let standIns: HexclaveStandIns;

beforeAll(async () => {
  standIns = await ensureHexclaveStandIns();
}, 45 * 60_000);

/** Runs a command in a throw-away container of `image` (no network). */
function inImage(image: string, entrypoint: string, args: string[], env: Record<string, string> = {}) {
  const envArgs = Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
  return execa("docker", ["run", "--rm", "--network", "none", ...envArgs, "--entrypoint", entrypoint, image, ...args], {
    reject: false,
    all: true,
  });
}

describe("ensureHexclaveStandIns", () => {
  it("tags every image docker/Dockerfile names, labelled with one content hash", async () => {
    expect([...standIns.images].sort()).toEqual([...(await dockerfileImages())].sort());
    expect(standIns.unavailable).toEqual([]);
    for (const ref of standIns.images) {
      const label = await execa("docker", [
        "image",
        "inspect",
        "--format",
        `{{ index .Config.Labels "${STAND_IN_LABEL}" }}`,
        ref,
      ]);
      expect(label.stdout.trim(), ref).toBe(standIns.hash);
    }
    expect(standIns.buildArgs.PGDG_APT_URL).toMatch(/^file:\/\//);
  });

  it("builds nothing the second time", async () => {
    const again = await ensureHexclaveStandIns();
    expect(again.built).toEqual([]);
    expect(again.hash).toBe(standIns.hash);
  });

  it("holds the files at the paths the Dockerfile copies, as real executables", async () => {
    const server = standIns.images.find((r) => r.startsWith("stackauth/server:"))!;
    const node = await inImage(server, "/usr/local/bin/node", ["--version"]);
    expect(node.stdout.trim()).toBe("v22.21.1");
    const app = await inImage(server, "ls", [
      "/app/entrypoint.sh",
      "/app/apps/backend/dist/db-migrations.mjs",
      "/app/apps/backend/server.js",
      "/app/apps/dashboard/server.js",
    ]);
    expect(app.exitCode, app.all).toBe(0);
    const debian = standIns.images.find((r) => r.startsWith("debian:"))!;
    const pgdg = await inImage(debian, "ls", ["/usr/local/share/hexclave-stand-in/pgdg/dists/trixie-pgdg/InRelease"]);
    expect(pgdg.exitCode, pgdg.all).toBe(0);
    const minio = standIns.images.find((r) => r.startsWith("minio/minio:"))!;
    const elf = await inImage(minio, "head", ["-c", "4", "/usr/bin/minio"]);
    expect(elf.stdout).toBe("\x7fELF");
  });
});

describe("the program stand-ins check their contract (run with python3 in the debian stand-in)", () => {
  // The stand-in images hold no python3 (the real ones hold no interpreter either): run
  // each ELF inside a throw-away python3-capable image built from the debian stand-in.
  let probe: string;
  beforeAll(async () => {
    const debian = standIns.images.find((r) => r.startsWith("debian:"))!;
    const minio = standIns.images.find((r) => r.startsWith("minio/minio:"))!;
    const clickhouse = standIns.images.find((r) => r.startsWith("clickhouse/"))!;
    probe = `hexclave-stand-in-probe:${standIns.hash}`;
    const exists = await execa("docker", ["image", "inspect", probe], { reject: false });
    if (exists.exitCode === 0) return;
    const dockerfile = [
      `FROM ${clickhouse} AS ch`,
      `FROM ${minio} AS minio`,
      `FROM ${debian}`,
      "RUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*",
      "COPY --from=ch /usr/bin/clickhouse /usr/bin/clickhouse",
      "COPY --from=minio /usr/bin/minio /usr/bin/minio",
      "RUN useradd --system clickhouse",
    ].join("\n");
    const built = await execa("docker", ["build", "-t", probe, "-"], {
      input: dockerfile,
      env: { DOCKER_BUILDKIT: "0" },
      reject: false,
      all: true,
    });
    expect(built.exitCode, built.all).toBe(0);
  }, 15 * 60_000);

  it("ClickHouse dies when it cannot create its access directory as its user", async () => {
    const config = `<clickhouse><path>/tmp/ch/</path><tmp_path>/tmp/ch/tmp/</tmp_path><user_files_path>/tmp/ch/uf/</user_files_path><format_schema_path>/tmp/ch/fs/</format_schema_path><user_directories><users_xml><path>users.xml</path></users_xml></user_directories><listen_host>127.0.0.1</listen_host></clickhouse>`;
    const users = "<clickhouse><users><default><password></password></default></users></clickhouse>";
    const script = `mkdir -p /etc/ch && printf '%s' '${config}' >/etc/ch/config.xml && printf '%s' '${users}' >/etc/ch/users.xml && exec setpriv --reuid=clickhouse --regid=clickhouse --clear-groups -- clickhouse server --config-file=/etc/ch/config.xml`;
    const run = await inImage(probe, "bash", ["-c", script]);
    expect(run.exitCode).toBe(2);
    expect(run.all).toMatch(
      /CONTRACT VIOLATION: Couldn't create or write the user_directories\/local_directory\/path directory \/var\/lib\/clickhouse\/access\//,
    );
  });

  it("MinIO refuses to start without its root credentials", async () => {
    const run = await inImage(probe, "minio", ["server", "/tmp/m", "--address", ":9090"]);
    expect(run.exitCode).toBe(2);
    expect(run.all).toContain("CONTRACT VIOLATION: environment variable MINIO_ROOT_USER must be set");
  });
});
