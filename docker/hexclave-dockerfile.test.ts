/**
 * Static checks of the Hexclave image (it cannot be built here: no registry)
 * and of services.json, the one declarative service list that the supervisor,
 * the image builder and the emulator runtime read.
 */
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";

const dockerDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = dirname(dockerDir);
const read = (p: string) => readFileSync(join(dockerDir, p), "utf8");

interface Health {
  kind: "http" | "tcp" | "exec";
  port?: number;
  path?: string;
  expectStatus?: number[];
  command?: string[];
  expectOutput?: string;
}
interface Service {
  name: string;
  stage: number;
  ports: { port: number; name: string }[];
  health: Health;
  dataDir: string | null;
  stopSignal?: string;
}
interface Profile {
  build: { context: string; dockerfile: string; needsRegistry: boolean };
  init?: { afterStage: number; script: string };
  services: Service[];
}
interface ServicesFile {
  formatVersion: number;
  exposed: { service: string; guestPort: number; hostPort: number; hostPortEnv: string; health: Health }[];
  profiles: Record<string, Profile>;
}

const services = JSON.parse(read("services.json")) as ServicesFile;
const hexclave = services.profiles.hexclave!;
const selftest = services.profiles.selftest!;
const byName = (p: Profile, name: string) => p.services.find((s) => s.name === name);

/**
 * ARCHITECTURE.md's service table, transcribed: service, ports, health check
 * (path and expected code, or the command), data directory, start stage.
 */
const ARCHITECTURE_TABLE = [
  {
    name: "postgres",
    title: "PostgreSQL",
    ports: [5432],
    health: { exec: "pg_isready" },
    data: "/data/postgres",
    stage: 1,
  },
  {
    name: "redis",
    title: "Redis",
    ports: [6379],
    health: { exec: "redis-cli", output: "PONG" },
    data: "/data/redis",
    stage: 1,
  },
  {
    name: "clickhouse",
    title: "ClickHouse",
    ports: [8123, 9009],
    health: { path: "/ping", status: 200 },
    data: "/data/clickhouse",
    stage: 2,
  },
  {
    name: "minio",
    title: "MinIO",
    ports: [9090, 9091],
    health: { path: "/minio/health/live", status: 200 },
    data: "/data/minio",
    stage: 2,
  },
  {
    name: "inbucket",
    title: "Inbucket",
    ports: [9001, 2500, 1100],
    health: { path: "/", status: 200 },
    data: "/data/inbucket",
    stage: 2,
  },
  {
    name: "svix",
    title: "Svix",
    ports: [8071],
    health: { path: "/api/v1/health/", status: 200 },
    data: null,
    stage: 3,
  },
  { name: "qstash", title: "QStash", ports: [8080], health: { path: "/", status: 401 }, data: null, stage: 3 },
  {
    name: "backend",
    title: "Backend",
    ports: [8102],
    health: { path: "/health?db=1", status: 200 },
    data: null,
    stage: 4,
  },
  {
    name: "dashboard",
    title: "Dashboard",
    ports: [8101],
    health: { path: "/handler/sign-in", status: 200 },
    data: null,
    stage: 4,
  },
] as const;

const EXPOSED = [
  { service: "dashboard", guestPort: 8101, hostPort: 26700, env: "EMULATOR_DASHBOARD_PORT", path: "/handler/sign-in" },
  { service: "backend", guestPort: 8102, hostPort: 26701, env: "EMULATOR_BACKEND_PORT", path: "/health?db=1" },
  { service: "minio", guestPort: 9090, hostPort: 26702, env: "EMULATOR_MINIO_PORT", path: "/minio/health/live" },
  { service: "inbucket", guestPort: 9001, hostPort: 26703, env: "EMULATOR_INBUCKET_PORT", path: "/" },
];

// ---- Dockerfile parsing ------------------------------------------------------

interface Instruction {
  op: string;
  args: string;
}
/** Instructions of a Dockerfile with comments dropped and continuation lines joined. */
function parseDockerfile(text: string): Instruction[] {
  const joined = text
    .split("\n")
    .filter((l) => !/^\s*#/.test(l))
    .join("\n")
    .replace(/\\\n/g, " ");
  return joined
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(" ") };
    });
}

const dockerfile = parseDockerfile(read("Dockerfile"));
const firstFrom = dockerfile.findIndex((i) => i.op === "FROM");
/** Build ARGs declared before the first FROM (the only ones FROM lines can use), with defaults. */
const globalArgs = new Map(
  dockerfile.slice(0, firstFrom).flatMap((i) => {
    if (i.op !== "ARG") return [];
    const [k, ...v] = i.args.split("=");
    return [[k!, v.length ? v.join("=") : undefined] as const];
  }),
);
const froms = dockerfile
  .filter((i) => i.op === "FROM")
  .map((i) => {
    const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args);
    if (!m) throw new Error(`unparsable FROM ${i.args}`);
    return { image: m[1]!, stage: m[2] };
  });
const stageNames = new Set(froms.flatMap((f) => (f.stage ? [f.stage] : [])));
const argDefault = (name: string) => globalArgs.get(name);
const expand = (ref: string) =>
  ref.replace(/\$\{(\w+)\}/g, (_, n: string) => {
    const v = argDefault(n);
    if (v === undefined) throw new Error(`ARG ${n} has no default`);
    return v;
  });

describe("docker/Dockerfile (the Hexclave image)", () => {
  it("pins every FROM by a tag held in a build ARG with a default, never latest", () => {
    const upstream = froms.filter((f) => !stageNames.has(f.image));
    expect(upstream.length).toBeGreaterThanOrEqual(8);
    for (const { image } of upstream) {
      expect(image, `${image} must be \${X_IMAGE}:\${X_TAG}`).toMatch(/^\$\{\w+_IMAGE\}:\$\{\w+_TAG\}$/);
      const tagArg = /:\$\{(\w+)\}$/.exec(image)![1]!;
      const tag = argDefault(tagArg);
      expect(tag, `${tagArg} default`).toBeTruthy();
      expect(tag).not.toMatch(/^latest$|^stable$|^main$/i);
      expect(expand(image)).toMatch(/^[a-z0-9./-]+:[\w.-]+$/);
    }
  });

  it("pins the versions ARCHITECTURE.md names", () => {
    expect(argDefault("DEBIAN_IMAGE")).toBe("debian");
    expect(argDefault("DEBIAN_TAG")).toBe("trixie-slim");
    expect(argDefault("REDIS_TAG")).toMatch(/^7\.\d+\.\d+/);
    expect(argDefault("CLICKHOUSE_TAG")).toMatch(/^25\.10(\.|$)/);
    expect(argDefault("MINIO_TAG")).toBe("RELEASE.2025-09-07T16-13-09Z");
    expect(argDefault("INBUCKET_TAG")).toBe("3.1.0");
    expect(argDefault("SVIX_TAG")).toBe("v1.88.0");
    expect(argDefault("QSTASH_TAG")).toMatch(/^v?\d+\.\d+\.\d+$/);
    expect(argDefault("HEXCLAVE_SERVER_IMAGE")).toBeTruthy();
    expect(argDefault("HEXCLAVE_SERVER_TAG")).toMatch(/^v?\d+\.\d+\.\d+/);
    const pg = dockerfile.filter((i) => i.op === "ARG").map((i) => i.args);
    expect(pg).toContain("PG_MAJOR=16");
    expect(pg.find((a) => a.startsWith("POSTGRES_APT_VERSION="))).toMatch(
      /^POSTGRES_APT_VERSION=16\.\d+-\d+\.pgdg13\+\d+$/,
    );
  });

  it("builds the final image on debian trixie-slim with tini as PID 1 and the shared entrypoint", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile ARG references, not a template
    expect(froms.at(-1)!.image).toBe("${DEBIAN_IMAGE}:${DEBIAN_TAG}");
    const entry = dockerfile.filter((i) => i.op === "ENTRYPOINT").at(-1)!;
    expect(JSON.parse(entry.args)).toEqual(["/usr/bin/tini", "--", "/usr/local/bin/hexclave-entrypoint"]);
    const env = dockerfile
      .filter((i) => i.op === "ENV")
      .map((i) => i.args)
      .join(" ");
    expect(env).toContain("HEXCLAVE_PROFILE=hexclave");
  });

  it("installs or copies every service of the table", () => {
    const text = dockerfile.map((i) => `${i.op} ${i.args}`).join("\n");
    const evidence: Record<string, RegExp> = {
      postgres: /apt-get install[^\n]*"postgresql-\$\{PG_MAJOR\}=\$\{POSTGRES_APT_VERSION\}"/,
      redis: /COPY --from=redis \/usr\/local\/bin\/redis-server/,
      clickhouse: /COPY --from=clickhouse \/usr\/bin\/clickhouse /,
      minio: /COPY --from=minio \/usr\/bin\/minio /,
      inbucket: /COPY --from=inbucket \/opt\/inbucket /,
      svix: /COPY --from=svix \/usr\/local\/bin\/svix-server /,
      qstash: /COPY --from=qstash \S+ \/out\/usr\/local\/bin\/qstash/,
      backend: /COPY --from=hexclave-server \$\{HEXCLAVE_SERVER_APP_DIR\} \/opt\/hexclave/,
      dashboard: /COPY --from=hexclave-server \$\{HEXCLAVE_SERVER_APP_DIR\} \/opt\/hexclave/,
    };
    for (const { name } of ARCHITECTURE_TABLE) expect(text, name).toMatch(evidence[name]!);
    expect(text).toMatch(/COPY --from=binaries \/out\/ \//);
    expect(text).toMatch(/COPY run\/ \/etc\/hexclave\/run\//);
    expect(text).toMatch(/COPY services\.json \/etc\/hexclave\/services\.json/);
    // ClickHouse is never stripped; the Go/Rust/C single binaries are.
    const strip = dockerfile.find((i) => i.op === "RUN" && i.args.startsWith("strip"))!.args;
    expect(strip).not.toContain("clickhouse");
    for (const bin of ["redis-server", "minio", "inbucket", "svix-server", "qstash"]) expect(strip).toContain(bin);
  });

  it("has an executable run script for every service and the init", () => {
    for (const s of hexclave.services) accessSync(join(dockerDir, "run", `${s.name}.sh`), constants.X_OK);
    accessSync(join(dockerDir, "run", `${hexclave.init!.script}.sh`), constants.X_OK);
  });
});

describe("docker/services.json", () => {
  it("is valid against services.schema.json (format version 1)", () => {
    const ajv = new Ajv({ allErrors: true });
    const validate = ajv.compile(JSON.parse(read("services.schema.json")));
    expect(validate(services), JSON.stringify(validate.errors, null, 2)).toBe(true);
    expect(services.formatVersion).toBe(1);
  });

  it("lists the nine services of ARCHITECTURE.md's table with their ports, health checks, stages and data", () => {
    // Plus the guest side of the emulator's file bridge (issue 10), an auxiliary service of both images.
    expect(
      hexclave.services
        .map((s) => s.name)
        .filter((n) => n !== "file-bridge")
        .sort(),
    ).toEqual(ARCHITECTURE_TABLE.map((s) => s.name).sort());
    for (const row of ARCHITECTURE_TABLE) {
      const s = byName(hexclave, row.name)!;
      expect(
        s.ports.map((p) => p.port),
        row.name,
      ).toEqual([...row.ports]);
      expect(s.stage, row.name).toBe(row.stage);
      expect(s.dataDir, row.name).toBe(row.data);
      if ("path" in row.health) {
        expect(s.health, row.name).toEqual({
          kind: "http",
          port: row.ports[0],
          path: row.health.path,
          expectStatus: [row.health.status],
        });
      } else {
        expect(s.health.kind).toBe("exec");
        expect(s.health.command![0]).toBe(row.health.exec);
        if ("output" in row.health) expect(s.health.expectOutput).toBe(row.health.output);
      }
    }
    expect(hexclave.init?.afterStage).toBe(3);
    expect(byName(hexclave, "postgres")!.stopSignal).toBe("INT");
  });

  it("agrees with the table in ARCHITECTURE.md itself when it is at hand", () => {
    const candidates = [join(repoRoot, "docs", "ARCHITECTURE.md"), join(repoRoot, "..", "shared", "ARCHITECTURE.md")];
    const found = candidates.find((p) => existsSync(p));
    // The transcription above is the contract either way; when the document is here, it must match it.
    const rows = found
      ? readFileSync(found, "utf8")
          .split("\n")
          .filter((l) => /^\| [A-Z]/.test(l) && !l.startsWith("| service"))
      : ARCHITECTURE_TABLE.map((r) => `| ${r.title} | | ${r.ports.join(" ")} |`);
    expect(rows).toHaveLength(ARCHITECTURE_TABLE.length);
    ARCHITECTURE_TABLE.forEach((r, i) => {
      const cells = rows[i]!.split("|").map((c) => c.trim());
      expect(cells[1]).toBe(r.title);
      for (const port of r.ports) expect(cells[3]).toContain(String(port));
      if (found && "path" in r.health) expect(cells[4]).toContain(`\`GET ${r.health.path}\` = ${r.health.status}`);
    });
  });

  it("declares exactly the four exposed endpoints", () => {
    expect(
      services.exposed.map((e) => ({
        service: e.service,
        guestPort: e.guestPort,
        hostPort: e.hostPort,
        env: e.hostPortEnv,
        path: e.health.path,
      })),
    ).toEqual(EXPOSED);
    for (const e of services.exposed)
      expect(e.health).toEqual({ kind: "http", port: e.guestPort, path: e.health.path, expectStatus: [200] });
  });

  it("serves the exposed endpoints from the same service, guest port, path and codes in every profile", () => {
    for (const [name, profile] of Object.entries(services.profiles)) {
      for (const e of services.exposed) {
        const s = byName(profile, e.service);
        expect(s, `${name}/${e.service}`).toBeDefined();
        expect(s!.health, `${name}/${e.service}`).toEqual(e.health);
        expect(s!.ports.map((p) => p.port)).toContain(e.guestPort);
      }
    }
  });

  it("keeps each profile's stages and ports consistent", () => {
    for (const [name, profile] of Object.entries(services.profiles)) {
      const ports = profile.services.flatMap((s) => s.ports.map((p) => p.port));
      expect(new Set(ports).size, `${name}: duplicate port`).toBe(ports.length);
      const stages = [...new Set(profile.services.map((s) => s.stage))].sort((a, b) => a - b);
      expect(stages[0]).toBe(1);
      if (profile.init) expect(stages).toContain(profile.init.afterStage);
      expect(existsSync(join(dockerDir, profile.build.dockerfile)), `${name} dockerfile`).toBe(true);
    }
  });
});

describe("docker/selftest/Dockerfile", () => {
  const selftestFile = parseDockerfile(read("selftest/Dockerfile"));

  it("has one FROM: the mmdebstrap base passed as a build ARG, so it builds with no registry", () => {
    const f = selftestFile.filter((i) => i.op === "FROM");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a Dockerfile ARG reference, not a template
    expect(f.map((i) => i.args)).toEqual(["${SELFTEST_BASE}"]);
    expect(selftestFile[0]).toEqual({ op: "ARG", args: "SELFTEST_BASE" });
    expect(selftest.build).toEqual({ context: ".", dockerfile: "selftest/Dockerfile", needsRegistry: false });
  });

  it("uses the same entrypoint, supervisor and health files as the Hexclave image", () => {
    const copies = (f: Instruction[]) =>
      f.filter((i) => i.op === "COPY" && !i.args.startsWith("--from")).map((i) => i.args);
    const shared = [
      "services.json /etc/hexclave/services.json",
      "entrypoint.sh /usr/local/bin/hexclave-entrypoint",
      "supervisor/supervise.sh /usr/local/bin/hexclave-supervise",
      "supervisor/health.sh /usr/local/bin/hexclave-health",
    ];
    for (const c of shared) {
      expect(copies(selftestFile)).toContain(c);
      expect(copies(dockerfile)).toContain(c);
    }
    expect(copies(selftestFile)).toContain("selftest/run/ /etc/hexclave/run/");
    const entry = (f: Instruction[]) => f.filter((i) => i.op === "ENTRYPOINT").at(-1)!.args;
    expect(entry(selftestFile)).toBe(entry(dockerfile));
  });

  it("has an executable run script for every self-test service and the init", () => {
    for (const s of selftest.services) accessSync(join(dockerDir, "selftest", "run", `${s.name}.sh`), constants.X_OK);
    accessSync(join(dockerDir, "selftest", "run", `${selftest.init!.script}.sh`), constants.X_OK);
  });
});
