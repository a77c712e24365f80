import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", "file-bridge-daemon": "src/file-bridge/bridge-daemon.ts" },
  format: ["esm"],
  dts: { entry: "src/index.ts" },
  sourcemap: true,
  clean: true,
  target: "node22",
});
