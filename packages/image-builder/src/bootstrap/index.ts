export * from "./bootstrap-base.js";
export * from "./foreign-arch.js";
export * from "./mmdebstrap-env.js";
export * from "./mmdebstrap-output.js";
export * from "./recipe.js";
export { mountsBelow, removeTree } from "./tree-cleanup.js";
