export * from "./warm-boot.js";
