import { defineConfig } from "tsup";

// The library entry: its dependencies stay imports. The `stack` bin is built by tsup.bin.config.ts, after this one.
export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  dts: { entry: "src/index.ts" },
  sourcemap: true,
  clean: true,
  target: "node22",
});
