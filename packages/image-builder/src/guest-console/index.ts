export * from "./kernel-panic.js";
export * from "./serial-follower.js";
