export * from "./bridge-path.js";
export * from "./bridge-token.js";
export * from "./config-file-session.js";
export * from "./config-write-back.js";
export * from "./file-bridge-events.js";
export * from "./file-bridge-server.js";
export * from "./runtime-hooks.js";
