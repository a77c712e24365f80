export * from "./markers.js";
export * from "./user-data.js";
export * from "./runtime-env.js";
