import { defineConfig } from "tsup";

/**
 * The `stack` bin, bundled: a command loads a few files instead of about 170 modules (execa alone is over a
 * hundred), which node resolves, reads and links one by one: 0.2 s of every command that runs a process (issue 18).
 * Commands stay lazy (split chunks). The file bridge process the emulator runs beside QEMU is bundled beside the bin,
 * where the bundled emulator looks for it (`bridgeDaemonCommand`). dockerode (optional native parts) stays a
 * dependency, loaded only by the commands that talk to Docker. Runs after tsup.config.ts (no clean: it would race).
 */
export default defineConfig({
  entry: { bin: "src/bin.ts", "file-bridge-daemon": "../emulator/src/file-bridge/bridge-daemon.ts" },
  format: ["esm"],
  sourcemap: true,
  clean: false,
  target: "node22",
  platform: "node",
  splitting: true,
  noExternal: [/^(?!dockerode$)/],
  // CommonJS dependencies bundled into ES modules (cross-spawn, under execa) call require() for node's own modules.
  banner: {
    js: 'import { createRequire as __hexclaveCreateRequire } from "node:module";\nconst require = __hexclaveCreateRequire(import.meta.url);',
  },
});
