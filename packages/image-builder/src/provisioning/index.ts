export * from "./markers.js";
export * from "./runtime-env.js";
export * from "./user-data.js";
