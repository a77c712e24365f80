import { defineConfig } from "tsup";

export default defineConfig({
  // `shell-script` is a subpath of its own: the emulator runtime writes shell scripts and must not load yaml.
  entry: ["src/index.ts", "src/shell-script.ts"],
  format: ["esm"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node22",
});
