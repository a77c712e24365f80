import { defineConfig } from "tsup";

/** The subpath entries are what the emulator runtime reads (see package.json exports); none loads dockerode. */
const entry = {
  index: "src/index.ts",
  image: "src/image/index.ts",
  release: "src/release/index.ts",
  download: "src/download/index.ts",
  "accelerator-fallback": "src/accelerator-fallback.ts",
};

export default defineConfig({
  entry,
  format: ["esm"],
  dts: { entry },
  sourcemap: true,
  clean: true,
  target: "node22",
});
