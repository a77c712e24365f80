export * from "./errors.js";
export * from "./errors-data.js";
export * from "./instance-layout.js";
export * from "./vm-spec.js";
