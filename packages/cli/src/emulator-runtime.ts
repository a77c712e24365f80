/**
 * What `stack emulator start|stop|reset|status|logs|bench` call: the emulator
 * runtime (`createEmulator()` from `@hexclave/emulator`), used as it is. The CLI
 * resolves flags and environment into {@link EmulatorSettings}, passes them to
 * the runtime's methods, and renders the runtime's events and results; it
 * declares no types of its own for them.
 *
 * `EmulatorRuntime` is the part of the runtime's `Emulator` the commands use,
 * so tests can hand `runCli` a small object in its place.
 */
import type { Emulator } from "@hexclave/emulator";

export type EmulatorRuntime = Pick<Emulator, "start" | "stop" | "reset" | "status" | "logs" | "bench" | "close">;

export type {
  EmulatorBenchResult,
  EmulatorBenchRun,
  EmulatorBenchSummary,
  EmulatorEvent,
  EmulatorResetResult,
  EmulatorStartResult,
  EmulatorStatus,
  EmulatorStopResult,
  PhaseStats,
  ServiceHealthCheck,
} from "@hexclave/emulator";
