import { defineConfig } from "tsup";

export default defineConfig({
  // `pull` is a subpath of its own: the image store loads got, which no other command needs.
  entry: { index: "src/index.ts", pull: "src/pull.ts", "file-bridge-daemon": "src/file-bridge/bridge-daemon.ts" },
  format: ["esm"],
  dts: { entry: { index: "src/index.ts", pull: "src/pull.ts" } },
  sourcemap: true,
  clean: true,
  target: "node22",
});
