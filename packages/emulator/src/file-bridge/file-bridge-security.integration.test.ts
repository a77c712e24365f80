/**
 * Issue 15's attacks on the host bridge, replayed against the real server
 * (findings 2, 7 and 8): each shows the attack no longer does harm.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BRIDGE_FW_CFG_FILE, BRIDGE_LOG_FILE } from "../layout.js";
import { startBridgeProcess, stopBridgeProcess } from "./bridge-process.js";
import { type FileBridge, MAX_REQUESTS_IN_FLIGHT, MAX_REQUESTS_QUEUED, startFileBridge } from "./file-bridge-server.js";
import { parseBridgeFwCfg } from "./fw-cfg.js";

let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "hx-bridge-security-"));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Polls `check` until it holds (a wait for a state with a generous deadline, not a timing assertion). */
async function until(
  what: string,
  check: () => Promise<boolean>,
  deadlineMs = 480_000,
  describeState?: () => Promise<string>,
): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) {
      const seen = describeState === undefined ? "" : ` (seen: ${await describeState().catch(String)})`;
      throw new Error(`gave up waiting for ${what}${seen}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function call(bridge: FileBridge, method: string, path: string, body?: string) {
  const res = await fetch(`${bridge.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${bridge.token}` },
    ...(body === undefined ? {} : { body }),
  });
  return { status: res.status, text: await res.text() };
}

describe("finding 2: the guest writes only what is granted, never VCS metadata or hooks", () => {
  let project: string;
  let marker: string;
  let bridge: FileBridge | undefined;
  afterEach(async () => {
    await bridge?.close();
    bridge = undefined;
  });

  beforeAll(async () => {
    project = join(base, "git-project");
    marker = join(base, "fsmonitor-ran");
    await mkdir(join(project, "data"), { recursive: true });
    await mkdir(join(project, "node_modules", ".bin"), { recursive: true });
    await execa("git", ["init", "-q", project]);
    await writeFile(join(project, "README.md"), "readme\n");
    await writeFile(join(project, "node_modules", ".bin", "tsc"), "#!/bin/sh\necho real tsc\n", { mode: 0o755 });
    // A symlink inside the project that leads into .git: a write through it must be refused too.
    await symlink(join(project, ".git"), join(project, "data", "gitdir"));
  });

  const attack = () => `[core]\n\tfsmonitor = "touch ${marker}; false"\n`;

  it("by default the project is read-only: PUT and DELETE refused (403 read-only), reads served", async () => {
    bridge = await startFileBridge({ root: project });
    expect(bridge.writable).toEqual([]);
    expect(await call(bridge, "GET", "/v1/files/README.md")).toEqual({ status: 200, text: "readme\n" });
    expect((await call(bridge, "PUT", "/v1/files/README.md", "pwned")).status).toBe(403);
    expect((await call(bridge, "PUT", "/v1/files/new.txt", "x")).text).toContain('"read-only"');
    expect((await call(bridge, "DELETE", "/v1/files/README.md")).status).toBe(403);
    expect(await readFile(join(project, "README.md"), "utf8")).toBe("readme\n");
    expect(await readdir(project)).not.toContain("new.txt");
  });

  it("even with the whole project granted, .git/config, hooks and node_modules/.bin are refused; git never runs the hook", async () => {
    const gitConfig = await readFile(join(project, ".git", "config"));
    bridge = await startFileBridge({ root: project, writable: ["."] });
    expect(bridge.writable).toEqual(["."]);
    for (const [path, body] of [
      ["/v1/files/.git/config", attack()],
      ["/v1/files/.git/hooks/post-checkout", `#!/bin/sh\ntouch ${marker}\n`],
      ["/v1/files/.GIT/config", attack()],
      ["/v1/files/data/gitdir/config", attack()],
      ["/v1/files/node_modules/.bin/tsc", `#!/bin/sh\ntouch ${marker}\n`],
      ["/v1/files/.husky/pre-commit", `#!/bin/sh\ntouch ${marker}\n`],
    ] as const) {
      const reply = await call(bridge, "PUT", path, body);
      expect(reply.status, path).toBe(403);
      expect(reply.text, path).toContain('"protected-path"');
    }
    expect((await call(bridge, "DELETE", "/v1/files/.git/config")).status).toBe(403);
    expect(await readFile(join(project, ".git", "config"))).toEqual(gitConfig);
    await expect(stat(join(project, ".git", "hooks", "post-checkout"))).rejects.toMatchObject({ code: "ENOENT" });
    expect(await readFile(join(project, "node_modules", ".bin", "tsc"), "utf8")).toBe("#!/bin/sh\necho real tsc\n");
    await execa("git", ["-C", project, "status", "--porcelain"]);
    await expect(stat(marker)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("a grant covers its subtree only; a refused grant names itself", async () => {
    bridge = await startFileBridge({ root: project, writable: [join(project, "data")] });
    expect(bridge.writable).toEqual(["data"]);
    expect((await call(bridge, "PUT", "/v1/files/data/out.json", "{}")).status).toBe(201);
    expect((await call(bridge, "PUT", "/v1/files/README.md", "x")).status).toBe(403);
    await bridge.close();
    bridge = undefined;
    await expect(startFileBridge({ root: project, writable: [".git"] })).rejects.toMatchObject({
      code: "FILE_BRIDGE_OPTION_INVALID",
      message: expect.stringContaining("--bridge-writable .git is a protected path"),
    });
    await expect(startFileBridge({ root: project, writable: ["../elsewhere"] })).rejects.toMatchObject({
      code: "FILE_BRIDGE_OPTION_INVALID",
      message: expect.stringContaining("outside the project directory"),
    });
  });

  it("a new file is 0644; a replaced setuid executable keeps no setuid, setgid or execute bit", async () => {
    const tool = join(project, "data", "tool.sh");
    await writeFile(tool, "#!/bin/sh\necho original\n");
    await chmod(tool, 0o6755);
    const old = process.umask(0);
    try {
      bridge = await startFileBridge({ root: project, writable: ["data"] });
      expect((await call(bridge, "PUT", "/v1/files/data/tool.sh", "#!/bin/sh\necho replaced\n")).status).toBe(200);
      expect((await call(bridge, "PUT", "/v1/files/data/fresh.txt", "new")).status).toBe(201);
    } finally {
      process.umask(old);
    }
    expect((await stat(tool)).mode & 0o7777).toBe(0o644);
    expect((await stat(join(project, "data", "fresh.txt"))).mode & 0o7777).toBe(0o644);
  });
});

describe("finding 7: a directory swapped for a symlink during requests never leads outside", () => {
  let swapper: ChildProcess | undefined;
  afterEach(() => {
    swapper?.kill("SIGKILL");
    swapper = undefined;
  });

  it("2000 reads and writes (16 at a time) against a swap loop: no outside byte read, nothing written outside", async () => {
    const project = join(base, "swap-project");
    const outside = join(base, "swap-outside");
    await mkdir(join(project, "d"), { recursive: true });
    await mkdir(outside);
    await writeFile(join(project, "d", "f"), "inside\n");
    await writeFile(join(outside, "f"), "OUTSIDE SECRET\n");
    const outsideBefore = (await readdir(outside)).sort();
    // d <-> symlink to the outside directory, as fast as the host can, for as long as the test runs.
    swapper = spawn(
      "python3",
      [
        "-c",
        `import os, shutil, sys
p, out = sys.argv[1], sys.argv[2]
d, away, link = os.path.join(p, "d"), os.path.join(p, "d.away"), os.path.join(p, "d.link")
os.symlink(out, link)
while True:
    os.rename(d, away)
    try:
        os.rename(link, d)
        os.rename(d, link)
    except OSError:
        pass  # a PUT made d again while it was missing
    if os.path.isdir(d) and not os.path.islink(d):
        shutil.rmtree(d)
    os.rename(away, d)`,
        project,
        outside,
      ],
      { stdio: "ignore" },
    );
    const bridge = await startFileBridge({ root: project, writable: ["."] });
    try {
      const statuses = new Map<number, number>();
      let leaked = 0;
      for (let round = 0; round < 125; round++) {
        const batch = [];
        for (let i = 0; i < MAX_REQUESTS_IN_FLIGHT / 2; i++) {
          batch.push(
            call(bridge, "GET", "/v1/files/d/f").then((r) => {
              if (r.text.includes("OUTSIDE")) leaked++;
              return r.status;
            }),
          );
          batch.push(call(bridge, "PUT", `/v1/files/d/w-${round}-${i}`, "from the guest").then((r) => r.status));
        }
        for (const status of await Promise.all(batch)) statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
      expect(leaked).toBe(0);
      // The race was real: some requests met the symlink (refused or not found) and some went through.
      expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
      expect(
        [...statuses.keys()].every((s) => [200, 201, 403, 404, 409, 503].includes(s)),
        JSON.stringify([...statuses]),
      ).toBe(true);
    } finally {
      swapper?.kill("SIGKILL");
      await bridge.close();
    }
    expect((await readdir(outside)).sort()).toEqual(outsideBefore);
    expect(await readFile(join(outside, "f"), "utf8")).toBe("OUTSIDE SECRET\n");
  }, 300_000);
});

/** The bridge process's peak and current resident memory, from /proc. */
async function memoryOf(pid: number): Promise<{ peakMiB: number; rssMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { peakMiB: kib("VmHWM") / 1024, rssMiB: kib("VmRSS") / 1024 };
}

/**
 * The stated cap: with 50 uploads of 10 MiB held open (500 MiB in flight), the bridge process's peak resident
 * size grows by less than this over its idle size (measured 25-77 MiB on a loaded 2-core machine: garbage chunks
 * wait for the collector). Before the fix it grew by about 380 MiB (every body was buffered whole); 16 buffered
 * uploads alone would be 160 MiB.
 */
const MEMORY_GROWTH_CAP_MIB = 96;

describe("finding 8: 50 held 10 MiB PUTs keep the bridge process's memory bounded", () => {
  it(`peak resident memory grows by under ${MEMORY_GROWTH_CAP_MIB} MiB; requests past the cap wait or are refused as busy`, async () => {
    const project = join(base, "memory-project");
    const instanceDir = join(base, "memory-run");
    await mkdir(project, { recursive: true });
    await mkdir(instanceDir, { recursive: true });
    const info = await startBridgeProcess({ instanceDir, projectDir: project, writable: ["."] });
    const sockets: Socket[] = [];
    try {
      const pid = info.pid as number;
      const endpoint = parseBridgeFwCfg(await readFile(join(instanceDir, BRIDGE_FW_CFG_FILE), "utf8"));
      if (!endpoint) throw new Error("no bridge endpoint");
      const before = await memoryOf(pid);
      const size = 10 * 1024 * 1024;
      const body = Buffer.alloc(size - 1, 0x61);
      const answers: string[] = [];
      const closed: boolean[] = [];
      for (let i = 0; i < 50; i++) {
        const socket = connect({ host: "127.0.0.1", port: endpoint.port });
        sockets.push(socket);
        answers.push("");
        closed.push(false);
        socket.on("data", (c: Buffer) => {
          answers[i] += c.toString("latin1");
        });
        socket.on("close", () => {
          closed[i] = true;
        });
        socket.on("error", () => {});
        socket.write(
          `PUT /v1/files/held-${i}.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${endpoint.token}\r\nContent-Length: ${size}\r\n\r\n`,
        );
        // All but the last byte: the request stays in flight until the socket is closed.
        socket.write(body);
      }
      // The state to measure: 16 uploads received whole but the last byte (streamed into their temp files), 32
      // waiting unread for a slot, the 2 beyond refused (503, then their connection closed). A wait for that state,
      // not a timing. Whether a refused client reads its 503 depends on the race between that answer and the reset
      // its own unread body causes (the server closes a connection whose body it did not read): the server's log
      // says what it answered, and each client saw either that 503 or its connection closed.
      const refusedInLog = async () =>
        (await readFile(join(instanceDir, BRIDGE_LOG_FILE), "utf8"))
          .split("\n")
          .filter((l) => l.includes('"type":"file-bridge-request"'))
          .map((l) => JSON.parse(l) as { status: number; refusal?: string })
          .filter((e) => e.status === 503 && e.refusal === "busy").length;
      const held = async () => {
        const temps = (await readdir(project)).filter((n) => n.endsWith(".hexclave-tmp"));
        const sizes = await Promise.all(temps.map((n) => stat(join(project, n)).then((i) => i.size)));
        return sizes.filter((n) => n === size - 1).length;
      };
      const answered = () => answers.filter((a) => a !== "");
      const refused = 50 - MAX_REQUESTS_IN_FLIGHT - MAX_REQUESTS_QUEUED;
      const state = async () =>
        `${await held()} uploads held, ${await refusedInLog()} refused as busy in the bridge's log, ${closed.filter(Boolean).length} connections closed, answers: ${answered()
          .map((a) => a.split("\r\n")[0])
          .join(" | ")}`;
      await until(
        "16 uploads in flight and 2 refused",
        async () =>
          (await held()) === MAX_REQUESTS_IN_FLIGHT &&
          (await refusedInLog()) === refused &&
          closed.filter(Boolean).length === refused,
        undefined,
        state,
      );
      const after = await memoryOf(pid);
      console.log(
        `[bridge memory] before ${before.rssMiB.toFixed(0)} MiB; 50 held 10 MiB PUTs: peak ${after.peakMiB.toFixed(0)} MiB, now ${after.rssMiB.toFixed(0)} MiB`,
      );
      expect(after.peakMiB - before.rssMiB).toBeLessThan(MEMORY_GROWTH_CAP_MIB);
      expect(answered().every((a) => a.startsWith("HTTP/1.1 503 "))).toBe(true);
      // The refused clients are exactly the closed connections; every other one still waits (held or queued).
      expect(answers.filter((a, i) => a !== "" && !closed[i])).toEqual([]);
    } finally {
      for (const s of sockets) s.destroy();
      await stopBridgeProcess(instanceDir);
    }
    // The cut uploads left nothing: no file, no temp file.
    expect(await readdir(project)).toEqual([]);
  }, 600_000);
});
