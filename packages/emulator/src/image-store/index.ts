export type {
  Channel,
  ChannelPointer,
  ChannelPointerArch,
  ChannelPointerFromDirOptions,
  ReleaseFile,
  ReleaseFileRole,
  ReleaseListing,
  RoleFile,
} from "@hexclave/image-builder/release";
export {
  buildChannelPointer,
  CHANNEL_POINTER_FORMAT_VERSION,
  CHANNELS,
  CHANNELS_RELEASE_TAG,
  channelPointerFileName,
  channelPointerFromDir,
  checkManifestAgainstSums,
  isReleaseVersion,
  manifestFiles,
  parseChannelPointer,
  parseSha256Sums,
  SHA256SUMS_FILE,
} from "@hexclave/image-builder/release";
export type { InstanceInUse } from "./emulator-in-use.js";
export { instancesUsingImage } from "./emulator-in-use.js";
export type { PullEvent, PullFileRole, PullStage } from "./pull-events.js";
export type { PullImageOptions, PullImageResult } from "./pull-image.js";
export { pullImage } from "./pull-image.js";
export type { PullSource } from "./pull-source.js";
export {
  authHeadersFor,
  CA_BUNDLE_ENV,
  DEFAULT_RELEASES_REPO,
  GITHUB_TOKEN_ENV,
  isGithubHost,
  pointerLocation,
  RELEASES_ENV,
  releaseFileLocation,
  resolvePullSource,
  sumsLocation,
} from "./pull-source.js";
