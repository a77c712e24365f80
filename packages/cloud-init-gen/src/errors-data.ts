/**
 * Every error code cloud-init-gen throws, with its default hint.
 * Never reuse or rename a code; add new ones here.
 */
import { CloudInitGenError, type CloudInitGenErrorOptions } from "./errors.js";

export const cloudInitErrorCatalogue = {
  INVALID_CLOUD_CONFIG: {
    title: "Invalid cloud-config",
    hint: "Fix each field named in the message (path: problem); `validate(config)` lists them all.",
  },
  INVALID_META_DATA: { title: "Invalid meta-data", hint: "Give a non-empty instanceId and a valid localHostname." },
  INVALID_NETWORK_CONFIG: {
    title: "Invalid network-config",
    hint: "Give a netplan-style version 2 config; fix each field named in the message.",
  },
  INVALID_SYSTEMD_UNIT: {
    title: "Invalid systemd unit description",
    hint: "Use a unit name like `name.service` and values without newlines.",
  },
  INVALID_SHELL_VALUE: {
    title: "Value cannot be passed to a shell",
    hint: "Shell words cannot hold NUL bytes; pass binary data through a file instead.",
  },
  INVALID_MIME_PART: {
    title: "Invalid MIME multi-part input",
    hint: "Use a supported part type; shell parts start with `#!`; the boundary must not occur in any part.",
  },
  INVALID_SEED_DOCUMENT: {
    title: "Invalid seed document",
    hint: "Pass a typed object or a rendered document that starts with a cloud-init header such as `#cloud-config`.",
  },
} as const satisfies Readonly<Record<string, { readonly title: string; readonly hint: string }>>;

export type CloudInitErrorCode = keyof typeof cloudInitErrorCatalogue;

/** Builds an error from the catalogue (hint defaults to the catalogue's). */
export function cloudInitError(
  code: CloudInitErrorCode,
  message: string,
  options: CloudInitGenErrorOptions = {},
): CloudInitGenError {
  return new CloudInitGenError(code, message, { ...options, hint: options.hint ?? cloudInitErrorCatalogue[code].hint });
}
