/**
 * @hexclave/emulator/pull: the image store, `stack emulator pull` (downloads
 * through got). A subpath of its own so the runtime's other commands never
 * load it.
 */
export type { PullEvent, PullFileRole, PullStage } from "./image-store/pull-events.js";
export type { PullImageOptions, PullImageResult } from "./image-store/pull-image.js";
export { pullImage } from "./image-store/pull-image.js";
