export type {
  BuildPayloadOptions,
  PayloadEvent,
  PayloadPlatform,
  PayloadProfile,
  PayloadRecord,
  PayloadResult,
} from "./build-payload.js";
export { buildPayload, payloadPaths, platformArch } from "./build-payload.js";
export type { BuildStep, BuildStreamMessage, BuildStreamState } from "./build-stream.js";
export { isRegistryError, parseStepLine, reduceBuildMessage } from "./build-stream.js";
export type { PackedContext } from "./context.js";
export { dockerignoreFilter, packBuildContext } from "./context.js";
export type { FromInstruction } from "./dockerfile-from.js";
export { externalBaseImages, parseFromInstructions } from "./dockerfile-from.js";
export type { SaveManifestEntry } from "./image-platform.js";
export { imagePlatformOf, loadWithPlatform, rewriteSaveManifest, withImagePlatform } from "./image-platform.js";
