/**
 * image-builder's error catalogue: every code it throws, with its default hint.
 * Add new codes here (keep them grouped by area); never reuse or rename one.
 */
import { defineErrorCatalogue } from "@hexclave/qemu-core";

export const imageBuilderErrors = defineErrorCatalogue({
  // Docker engine
  DOCKER_UNREACHABLE: {
    title: "Docker engine not reachable",
    hint: "Start dockerd (or Docker Desktop) and check that /var/run/docker.sock (or DOCKER_HOST) answers: docker info.",
  },
  DOCKER_IMPORT_FAILED: {
    title: "docker import failed",
    hint: "Read the engine's error in the message; check free disk space under the Docker root directory.",
  },
  DOCKER_BUILD_FAILED: {
    title: "Docker image build failed",
    hint: "Read the failing build step in the message; run the same build by hand to see its full output.",
  },
  // Root filesystems
  MMDEBSTRAP_NOT_FOUND: {
    title: "mmdebstrap is not installed",
    hint: "Install it: apt-get install mmdebstrap (Debian and Ubuntu).",
  },
  MMDEBSTRAP_FAILED: {
    title: "mmdebstrap failed",
    hint: "Read mmdebstrap's last lines in the message; check that the Debian mirror answers and that you run as root (or that unshare works).",
  },
  // Payload (docker build + save)
  PAYLOAD_CONTEXT_INVALID: {
    title: "Payload build context is invalid",
    hint: "Check the profile's context directory and Dockerfile path named in the message.",
  },
  REGISTRY_UNREACHABLE: {
    title: "Container registry not reachable",
    hint: "This profile needs an image from a registry that cannot be reached. Build with --profile selftest, which needs no registry, or restore network access (or load the image with docker load).",
  },
  PAYLOAD_EXPORT_FAILED: {
    title: "docker save failed",
    hint: "Read the engine's error in the message; check free disk space in the output directory.",
  },
  // Downloads
  DOWNLOAD_FAILED: {
    title: "Download failed",
    hint: "Check the URL and your network (HTTPS_PROXY, NO_PROXY, NODE_EXTRA_CA_CERTS); run again to resume the partial file.",
  },
  DOWNLOAD_HTTP_ERROR: {
    title: "Server refused the download",
    hint: "The server answered with an HTTP error that retrying will not fix; check the URL or the mirror.",
  },
  DOWNLOAD_DIGEST_MISMATCH: {
    title: "Downloaded file has the wrong checksum",
    hint: "The file was deleted and not used. Run again; if it persists the mirror serves a file that does not match its checksums, so use another mirror.",
  },
  DOWNLOAD_NO_SPACE: {
    title: "Not enough free disk space for the download",
    hint: "Free disk space on the file system named in the message, or point the cache elsewhere.",
  },
  DOWNLOAD_TOO_LARGE: {
    title: "Download larger than allowed",
    hint: "The server sent more bytes than the size limit; check the URL, or raise the limit.",
  },
  DOWNLOAD_LOCK_TIMEOUT: {
    title: "Another process holds the download lock",
    hint: "Wait for the other download to finish, or delete the lock file named in the message if no such process runs.",
  },
  // Cloud base image
  SHA512SUMS_MALFORMED: {
    title: "SHA512SUMS is malformed",
    hint: "The mirror's SHA512SUMS could not be parsed (line named in the message); use another mirror with --mirror.",
  },
  CLOUD_IMAGE_NOT_LISTED: {
    title: "Cloud image not listed in SHA512SUMS",
    hint: "The mirror does not publish this image; check the mirror URL, arch and variant.",
  },
  // Accelerator verdicts (src/accelerator-fallback.ts; the build and the emulator runtime)
  EMULATOR_VM_FAILED: {
    title: "The VM stopped in an error state",
    hint: "Read QEMU's words in the message (and qemu.log in the instance directory); `--accel tcg` runs without the hardware accelerator.",
  },
  ACCEL_FAILED: {
    title: "The chosen accelerator could not run the guest",
    hint: "It was forced with --accel or EMULATOR_ACCEL: use --accel auto (which falls back to tcg by itself) or --accel tcg.",
  },
  // Image build pipeline (bootstrap, warm boot, compaction, manifest: src/bootstrap, src/warm-boot, src/pipeline.ts)
  SERVICES_FILE_INVALID: {
    title: "docker/services.json is invalid",
    hint: "Fix the fields named in the message; the file is the one list of services, ports and health checks.",
  },
  BUILD_INPUT_INVALID: {
    title: "Invalid image build option",
    hint: "Fix the option named in the message (arch amd64|arm64|both, profile hexclave|selftest, base auto|cloud|bootstrap).",
  },
  BOOTSTRAP_FAILED: {
    title: "Building the bootstrap base failed",
    hint: "Read the failing step and its output in the message; delete the cache directory named there to start clean.",
  },
  FOREIGN_ARCH_UNAVAILABLE: {
    title: "Cannot run the other architecture's programs",
    hint: "Install qemu-user-static and binfmt-support (apt-get install qemu-user-static binfmt-support), then: update-binfmts --enable qemu-aarch64.",
  },
  WARM_BOOT_FAILED: {
    title: "The provisioning boot failed",
    hint: "Read the failing stage and the last serial lines in the message; the full serial log is named in the details.",
  },
  WARM_BOOT_TIMEOUT: {
    title: "The provisioning boot did not finish in time",
    hint: "Under TCG a boot is slow: raise the deadline (`stack build-image --timeout SECONDS`, or deadlineMs), or check the serial log for a stuck stage.",
  },
  COMPACTION_FAILED: {
    title: "Compacting the image failed",
    hint: "Read qemu-img's error in the message; check free disk space in the output directory.",
  },
  MANIFEST_INVALID: {
    title: "The image manifest is invalid",
    hint: "Build or pull the image again; the manifest beside it is damaged or of an unknown format version.",
  },
  UNSUPPORTED_HOST_ARCH: {
    title: "Unsupported host architecture",
    hint: "Build on an amd64 or arm64 host.",
  },
  // Release pointer and layout (src/release; pull reads them)
  POINTER_FORMAT_UNSUPPORTED: {
    title: "The channel pointer is of a newer format than this CLI reads",
    hint: "Upgrade the Hexclave CLI (npm install -g @hexclave/cli@latest, or update it in your project), then pull again.",
  },
  POINTER_INVALID: {
    title: "The channel pointer is invalid",
    hint: "The release server or mirror published a damaged emulator-<channel>.json; try again later, or pull a version with --version.",
  },
  RELEASE_INVALID: {
    title: "The release is inconsistent",
    hint: "Its SHA256SUMS, manifest and channel pointer disagree (named in the message); pull another version, or report the release.",
  },
  // Runtime environment of the Hexclave image (src/provisioning/runtime-env*.ts)
  RUNTIME_ENV_INVALID: {
    title: "The runtime environment cannot be rendered",
    hint: "Fix the setting named in the message (host ports are 1-65535: check EMULATOR_*_PORT).",
  },
  RUNTIME_SECRETS_INVALID: {
    title: "The emulator's per-install secrets file is unreadable",
    hint: "Delete the file named in the message: the next start makes new secrets (the emulator's own keys change; nothing else is lost).",
  },
  // Cancellation
  ABORTED: { title: "Aborted", hint: "The operation was cancelled; nothing was left half-done." },
});

export type ImageBuilderErrorCode = keyof typeof imageBuilderErrors.catalogue;
