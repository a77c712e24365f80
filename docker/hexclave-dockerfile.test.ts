/**
 * Static checks of the Hexclave image's Dockerfile, configuration and run
 * scripts against upstream's local emulator (../shared/research/upstream-payload.md),
 * and of services.json, the one declarative service list that the supervisor,
 * the image builder and the emulator runtime read. The contract build and run
 * of the same Dockerfile are in hexclave-contract.integration.test.ts.
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
  script?: string;
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
/** The Hexclave profile serves Backend and Dashboard from one program, the server image's entrypoint. */
const hexclaveServiceOf = (name: string) => (name === "backend" || name === "dashboard" ? "app" : name);
/** Upstream's supervisord programs (docker/local-emulator/supervisord.conf) and ours: init-services is our one-shot init, stack-app our app; the file bridge is ours. */
const UPSTREAM_PROGRAMS: Record<string, string> = {
  postgres: "postgres",
  redis: "redis",
  inbucket: "inbucket",
  clickhouse: "clickhouse",
  minio: "minio",
  "stripe-mock": "stripe-mock",
  "freestyle-mock": "freestyle-mock",
  "mock-oauth": "mock-oauth",
  svix: "svix",
  qstash: "qstash",
  "stack-app": "app",
  "cron-jobs": "cron-jobs",
};

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
    health: { path: "/api/v1/health/", status: 200, also: 204 },
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

const dockerText = dockerfile.map((i) => `${i.op} ${i.args}`).join("\n");
const runsIn = (pattern: RegExp) => dockerfile.some((i) => i.op === "RUN" && pattern.test(i.args));

describe("docker/Dockerfile (the Hexclave image)", () => {
  it("names every upstream image by a build ARG with a default", () => {
    const upstream = froms.filter((f) => !stageNames.has(f.image));
    expect(upstream.length).toBeGreaterThanOrEqual(8);
    for (const { image } of upstream) {
      expect(image, `${image} must be \${X_IMAGE}:\${X_TAG}`).toMatch(/^\$\{\w+_IMAGE\}:\$\{\w+_TAG\}$/);
      const tagArg = /:\$\{(\w+)\}$/.exec(image)![1]!;
      expect(argDefault(tagArg), `${tagArg} default`).toBeTruthy();
      expect(expand(image)).toMatch(/^[a-z0-9./-]+:[\w.-]+$/);
    }
  });

  it("uses the images and versions upstream's local emulator uses", () => {
    expect(argDefault("DEBIAN_IMAGE")).toBe("debian");
    expect(argDefault("DEBIAN_TAG")).toBe("trixie-slim");
    expect(argDefault("CLICKHOUSE_IMAGE")).toBe("clickhouse/clickhouse-server");
    expect(argDefault("CLICKHOUSE_TAG")).toBe("25.10");
    expect(argDefault("MINIO_TAG")).toBe("RELEASE.2025-09-07T16-13-09Z");
    expect(argDefault("INBUCKET_TAG")).toBe("3.1.0");
    expect(argDefault("SVIX_TAG")).toBe("v1.88.0");
    expect(`${argDefault("STRIPE_MOCK_IMAGE")}:${argDefault("STRIPE_MOCK_TAG")}`).toBe("stripe/stripe-mock:v0.195.0");
    // §1.3: upstream's QStash image; its binary is found, not assumed at a path.
    expect(`${argDefault("QSTASH_IMAGE")}:${argDefault("QSTASH_TAG")}`).toBe("bgodil/qstash:latest");
    expect(runsIn(/command -v qstash \|\| find \/ /)).toBe(true);
    expect(dockerText).toMatch(/COPY --from=qstash \/qstash-binary \/out\/usr\/local\/bin\/qstash/);
  });

  it("takes the server image upstream publishes, with a tag of a kind it publishes (§1.1)", () => {
    // stackauth/server is published as latest (main), the branch name and the short sha; never semver.
    expect(argDefault("HEXCLAVE_SERVER_IMAGE")).toBe("stackauth/server");
    const tag = argDefault("HEXCLAVE_SERVER_TAG")!;
    expect(tag).toMatch(/^(latest|dev|main|[0-9a-f]{7,40}|sha-[0-9a-f]{7,40})$/);
    expect(tag).not.toMatch(/^v?\d+\.\d+\.\d+/);
  });

  it("installs PostgreSQL 16 from PGDG unpinned, through a source seam (§1.2)", () => {
    const args = dockerfile.filter((i) => i.op === "ARG").map((i) => i.args);
    expect(args).toContain("PG_MAJOR=16");
    expect(args).toContain("PGDG_APT_URL=http://apt.postgresql.org/pub/repos/apt");
    expect(args).toContain("PGDG_KEY_URL=https://www.postgresql.org/media/keys/ACCC4CF8.asc");
    expect(dockerText).toMatch(/apt-get install[^\n]*"postgresql-\$\{PG_MAJOR\}" "postgresql-client-\$\{PG_MAJOR\}"/);
    expect(dockerText).not.toMatch(/postgresql-(client-)?(\$\{PG_MAJOR\}|16)"?=/);
    expect(dockerText).toMatch(/\$\{VERSION_CODENAME\}-pgdg main/);
  });

  it("installs full python3 for the file bridge proxy, not python3-minimal (§1.4)", () => {
    expect(dockerText).toMatch(/apt-get install[^\n]* python3[ ;]/);
    expect(dockerText).not.toContain("python3-minimal");
    const proxy = read("file-bridge/bridge-proxy.py");
    expect(proxy).toMatch(/import http\.(client|server)/);
  });

  it("replaces ClickHouse's whole configuration with upstream's settings (§1.5)", () => {
    expect(dockerText).toContain("COPY config/clickhouse/config.xml /etc/clickhouse-server/config.xml");
    expect(dockerText).toContain("COPY config/clickhouse/users.xml /etc/clickhouse-server/users.xml");
    expect(dockerText).not.toMatch(/COPY --from=clickhouse \/etc\/clickhouse-server/);
    const config = read("config/clickhouse/config.xml");
    expect(config).toMatch(/<local_directory>\s*<path>\/data\/clickhouse\/access\/<\/path>/);
    expect(config).toContain("<max_server_memory_usage_to_ram_ratio>0.5</max_server_memory_usage_to_ram_ratio>");
    expect(config.match(/<listen_host>[^<]*<\/listen_host>/g)).toEqual(["<listen_host>127.0.0.1</listen_host>"]);
    for (const tag of ["path", "tmp_path", "user_files_path", "format_schema_path"]) {
      expect(config).toMatch(new RegExp(`<${tag}>/data/clickhouse/`));
    }
    expect(config).not.toContain("interserver_http_port");
    const users = read("config/clickhouse/users.xml");
    expect(users).toContain("<max_memory_usage>1000000000</max_memory_usage>");
    expect(users).toMatch(/<stackframe>[\s\S]*<access_management>1<\/access_management>[\s\S]*<\/stackframe>/);
  });

  it("runs the server image's own entrypoint for Backend and Dashboard (§1.6, §1.8, §1.9)", () => {
    expect(dockerText).toMatch(/COPY --from=hexclave-server \$\{HEXCLAVE_SERVER_APP_DIR\} \/app/);
    expect(dockerText).toMatch(/COPY --from=hexclave-server \/usr\/local\/bin\/node \/usr\/local\/bin\/node/);
    const app = read("run/app.sh");
    expect(app).toMatch(/^\.\/entrypoint\.sh &$/m);
    expect(app).toMatch(/^cd "\$\{HEXCLAVE_APP_DIR:-\/app\}"/m);
    // No second, hand-written way to migrate or start the apps.
    for (const f of ["app.sh", "init.sh"]) expect(read(`run/${f}`)).not.toMatch(/db-migrations|server\.js/);
  });

  it("bakes no secret into the image: configuration comes from the runtime environment", () => {
    const env = dockerfile
      .filter((i) => i.op === "ENV")
      .map((i) => i.args)
      .join(" ");
    expect(env).not.toMatch(/PASSWORD|SECRET|TOKEN|_KEY/);
  });

  it("collects the single binaries, stripping only what upstream strips", () => {
    for (const [stage, path] of [
      ["minio", "/usr/bin/minio"],
      ["inbucket", "/opt/inbucket"],
      ["svix", "/usr/local/bin/svix-server"],
      ["stripe-mock", "/bin/stripe-mock"],
      ["clickhouse", "/usr/bin/clickhouse"],
    ] as const) {
      expect(dockerText).toContain(`COPY --from=${stage} ${path} `);
    }
    expect(dockerText).toMatch(/COPY --from=binaries \/out\/ \//);
    expect(dockerText).toMatch(/COPY run\/ \/etc\/hexclave\/run\//);
    expect(dockerText).toMatch(/COPY services\.json \/etc\/hexclave\/services\.json/);
    const strip = dockerfile.find((i) => i.op === "RUN" && i.args.includes("strip --strip-all"))!.args;
    expect(strip).not.toContain("clickhouse");
    for (const bin of ["minio", "svix-server", "qstash"]) expect(strip).toContain(`/out/usr/local/bin/${bin}`);
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

  it("has an executable run script for every service and the init", () => {
    for (const s of hexclave.services) accessSync(join(dockerDir, "run", `${s.script ?? s.name}.sh`), constants.X_OK);
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

  it("has upstream's programs: thirteen with the file bridge", () => {
    const names = hexclave.services.map((s) => s.name).sort();
    expect(names).toEqual([...Object.values(UPSTREAM_PROGRAMS), "file-bridge"].sort());
    expect(names).toHaveLength(13);
  });

  it("serves the services of ARCHITECTURE.md's table with their ports, health checks, stages and data", () => {
    for (const row of ARCHITECTURE_TABLE) {
      const s = byName(hexclave, hexclaveServiceOf(row.name))!;
      expect(s, row.name).toBeDefined();
      for (const port of row.ports)
        expect(
          s.ports.map((p) => p.port),
          row.name,
        ).toContain(port);
      if (s.name === "app") {
        expect(s.stage).toBe(row.stage);
        if ("path" in row.health)
          expect(s.health.command!.join(" "), row.name).toContain(`:${row.ports[0]}${row.health.path}`);
        continue;
      }
      expect(s.stage, row.name).toBe(row.stage);
      expect(s.dataDir, row.name).toBe(row.data);
      if ("path" in row.health) {
        expect(s.health, row.name).toEqual({
          kind: "http",
          port: row.ports[0],
          path: row.health.path,
          expectStatus: "also" in row.health ? [row.health.status, row.health.also] : [row.health.status],
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

  it("serves the exposed endpoints from a service of every profile, with the same health check", () => {
    for (const [name, profile] of Object.entries(services.profiles)) {
      for (const e of services.exposed) {
        const s = byName(profile, name === "hexclave" ? hexclaveServiceOf(e.service) : e.service);
        expect(s, `${name}/${e.service}`).toBeDefined();
        expect(s!.ports.map((p) => p.port)).toContain(e.guestPort);
        if (s!.health.kind === "http") expect(s!.health, `${name}/${e.service}`).toEqual(e.health);
        else expect(s!.health.command!.join(" "), `${name}/${e.service}`).toContain(`:${e.guestPort}${e.health.path}`);
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
    // One set of run scripts: the services both images have run the same script.
    expect(copies(selftestFile)).toContain("run/ /etc/hexclave/run/");
    expect(copies(dockerfile)).toContain("run/ /etc/hexclave/run/");
    expect(existsSync(join(dockerDir, "selftest", "run"))).toBe(false);
    const entry = (f: Instruction[]) => f.filter((i) => i.op === "ENTRYPOINT").at(-1)!.args;
    expect(entry(selftestFile)).toBe(entry(dockerfile));
  });

  it("has an executable run script for every self-test service and the init", () => {
    for (const s of selftest.services) accessSync(join(dockerDir, "run", `${s.script ?? s.name}.sh`), constants.X_OK);
    accessSync(join(dockerDir, "run", `${selftest.init!.script}.sh`), constants.X_OK);
  });
});
