export * from "./markers.js";
export * from "./user-data.js";
