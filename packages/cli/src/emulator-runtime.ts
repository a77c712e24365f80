/**
 * What `stack emulator start|stop|reset|status|logs` call: the emulator
 * runtime (`createEmulator()` from `@hexclave/emulator`), used as it is. The CLI
 * resolves flags and environment into {@link EmulatorSettings}, passes them to
 * the runtime's methods, and renders the runtime's events and results; it
 * declares no types of its own for them.
 *
 * `EmulatorRuntime` is the part of the runtime's `Emulator` the commands use,
 * so tests can hand `runCli` a small object in its place.
 */
import type { Emulator } from "@hexclave/emulator";

export type EmulatorRuntime = Pick<Emulator, "start" | "stop" | "reset" | "status" | "logs" | "close">;

export type {
  EmulatorEvent,
  EmulatorResetResult,
  EmulatorStartResult,
  EmulatorStatus,
  EmulatorStopResult,
  ServiceHealthCheck,
} from "@hexclave/emulator";
