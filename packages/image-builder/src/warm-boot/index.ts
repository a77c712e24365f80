export * from "./serial-follower.js";
export * from "./warm-boot.js";
