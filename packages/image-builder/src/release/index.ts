/**
 * `@hexclave/image-builder/release`: a release's layout as CI publishes it and `pull` reads it: the channel
 * pointer, SHA256SUMS, the release file names.
 */
export * from "./channel-pointer.js";
export * from "./release-dir.js";
