/**
 * The list of test projects. Tests live next to the code they test and are
 * tagged by file name:
 *
 *   *.test.ts              unit: pure functions, no processes, milliseconds
 *   *.integration.test.ts  integration: real qemu-img, QEMU, dockerd, HTTP servers on 127.0.0.1
 *   *.e2e.test.ts          end-to-end: boots the shared self-test emulator image under TCG
 *   *.cloud-e2e.test.ts    `build-image --base cloud` against a local stand-in of Debian's cloud image host,
 *                          booted under OVMF, then started: in `pnpm test` after the e2e project
 *   *.cross-arch.test.ts   arm64 on an amd64 host, end to end (hours under TCG): only with
 *                          `pnpm test:cross-arch`, never in `pnpm test`
 *   *.rehearsal.test.ts    the publishing workflow's scripts run locally against the stand-in cloud host
 *                          (builds and boots full VMs): only with `pnpm test:release-rehearsal`
 *   *.contract-e2e.test.ts the real Hexclave image built against offline stand-ins of its upstream
 *                          images, then the emulator on it (about 25 min under TCG): only with
 *                          `pnpm test:contract-e2e` until its first green run on a clean machine
 *
 * Run one tag alone with `pnpm vitest run --project unit` (or integration, e2e). `pnpm test` runs the integration
 * files two at a time (`--maxWorkers=2`; vitest would run one at a time on two cores): most of them wait on a
 * process, a VM's power button or a socket rather than the CPU, and each uses its own ports, directories and names.
 */
import { fileURLToPath } from "node:url";
import type { TestProjectInlineConfiguration } from "vitest/config";

const src = (pkg: string, entry = "index.ts") =>
  fileURLToPath(new URL(`./packages/${pkg}/src/${entry}`, import.meta.url));
const fixtures = (dir: string) => fileURLToPath(new URL(`./${dir}/test-support/`, import.meta.url));

/**
 * Tests import the workspace packages from source, so no build is needed for them. Fixtures shared across
 * packages are reached as `#fixtures/<package>/<file>.js` (the same mapping is in each package's tsconfig paths).
 */
export const alias = {
  "@hexclave/qemu-core": src("qemu-core"),
  "@hexclave/cloud-init-gen/shell-script": src("cloud-init-gen", "shell-script.ts"),
  "@hexclave/cloud-init-gen": src("cloud-init-gen"),
  "@hexclave/image-builder/image": src("image-builder", "image/index.ts"),
  "@hexclave/image-builder/release": src("image-builder", "release/index.ts"),
  "@hexclave/image-builder/download": src("image-builder", "download/index.ts"),
  "@hexclave/image-builder/accelerator-fallback": src("image-builder", "accelerator-fallback.ts"),
  "@hexclave/image-builder": src("image-builder"),
  "@hexclave/emulator/pull": src("emulator", "pull.ts"),
  "@hexclave/emulator": src("emulator"),
  "#fixtures/image-builder/": fixtures("packages/image-builder"),
  "#fixtures/qemu-core/": fixtures("packages/qemu-core"),
  "#fixtures/cloud-init-gen/": fixtures("packages/cloud-init-gen"),
  "#fixtures/docker/": fixtures("docker"),
};

const slow = [
  "**/*.integration.test.ts",
  "**/*.e2e.test.ts",
  "**/*.cross-arch.test.ts",
  "**/*.contract-e2e.test.ts",
  "**/*.cloud-e2e.test.ts",
  "**/*.rehearsal.test.ts",
];

export const projects: TestProjectInlineConfiguration[] = [
  {
    resolve: { alias },
    test: {
      name: "unit",
      include: ["packages/*/src/**/*.test.ts", "docker/**/*.test.ts", ".github/**/*.test.ts", "scripts/**/*.test.ts"],
      exclude: ["**/node_modules/**", ...slow],
      testTimeout: 10_000,
    },
  },
  {
    resolve: { alias },
    test: {
      name: "integration",
      include: [
        "packages/*/src/**/*.integration.test.ts",
        "docker/**/*.integration.test.ts",
        ".github/**/*.integration.test.ts",
        "scripts/**/*.integration.test.ts",
      ],
      exclude: ["**/node_modules/**"],
      testTimeout: 120_000,
      hookTimeout: 600_000,
    },
  },
  {
    resolve: { alias },
    test: {
      name: "e2e",
      include: ["packages/*/src/**/*.e2e.test.ts"],
      exclude: ["**/node_modules/**"],
      globalSetup: ["./packages/image-builder/test-support/selftest-image.global-setup.ts"],
      testTimeout: 900_000,
      hookTimeout: 1_800_000,
      // One VM at a time: two cores, and the emulator's host ports are shared.
      poolOptions: { forks: { singleFork: true } },
    },
  },
  {
    resolve: { alias },
    test: {
      name: "cross-arch",
      include: ["packages/*/src/**/*.cross-arch.test.ts"],
      exclude: ["**/node_modules/**"],
      testTimeout: 4 * 3_600_000,
      hookTimeout: 4 * 3_600_000,
      poolOptions: { forks: { singleFork: true } },
    },
  },
  {
    // The stand-in of Debian's cloud image host and `build-image --base cloud` against it, then a start to the four
    // ports. In `pnpm test` after the e2e project (about 18 min on a fresh machine: the stand-in disk, then the
    // pipeline); alone with `pnpm test:cloud-e2e`.
    resolve: { alias },
    test: {
      name: "cloud-e2e",
      include: ["packages/*/src/**/*.cloud-e2e.test.ts"],
      exclude: ["**/node_modules/**"],
      testTimeout: 60 * 60_000,
      hookTimeout: 90 * 60_000,
      poolOptions: { forks: { singleFork: true } },
    },
  },
  {
    resolve: { alias },
    test: {
      name: "release-rehearsal",
      include: ["scripts/release/**/*.rehearsal.test.ts"],
      exclude: ["**/node_modules/**"],
      testTimeout: 90 * 60_000,
      hookTimeout: 60 * 60_000,
      poolOptions: { forks: { singleFork: true } },
    },
  },
  {
    resolve: { alias },
    test: {
      name: "contract-e2e",
      include: ["packages/*/src/**/*.contract-e2e.test.ts"],
      exclude: ["**/node_modules/**"],
      testTimeout: 30 * 60_000,
      hookTimeout: 90 * 60_000,
      poolOptions: { forks: { singleFork: true } },
    },
  },
];
