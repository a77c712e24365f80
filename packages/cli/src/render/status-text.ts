/** Human text for `status` and `doctor`. Pure: a report and a style in, text out. */
import { describeGuestNetwork } from "@hexclave/emulator";
import type { DoctorReport, Verdict } from "../doctor/doctor-report.js";
import type { StatusReport } from "../status-report.js";
import { formatDuration } from "./format.js";
import type { Style } from "./style.js";

const HEALTH_TEXT: Record<StatusReport["health"], string> = {
  healthy: "running, all services healthy",
  degraded: "degraded: running, but not every service is up",
  stopped: "stopped",
  broken: "broken: QEMU holds the VM in an error state (stop it; start boots it again)",
  crashed: "crashed: QEMU exited without a stop",
};

export function renderStatusText(report: StatusReport, style: Style): string {
  const colour =
    report.health === "healthy"
      ? "green"
      : report.health === "crashed" || report.health === "broken"
        ? "red"
        : "yellow";
  const lines = [`emulator: ${style(colour, HEALTH_TEXT[report.health])}`];
  const vm = report.vm;
  lines.push(
    `vm:       ${vm.state}${vm.pid === null ? "" : ` (pid ${vm.pid})`}, ${vm.arch}, ${vm.cpus} CPUs, ${vm.memoryMb} MB` +
      (vm.uptimeSeconds === null ? "" : `, up ${formatDuration(vm.uptimeSeconds * 1000)}`),
  );
  if (vm.failure !== null) lines.push(`failure:  ${vm.failure}`);
  if (vm.guestNetwork !== null) lines.push(`network:  ${describeGuestNetwork(vm.guestNetwork)}`);
  if (vm.accelerator !== null) {
    lines.push(`accel:    ${vm.accelerator}${vm.acceleratorReason === null ? "" : ` (${vm.acceleratorReason})`}`);
  }
  lines.push(
    `image:    ${report.image.present ? report.image.path : `not installed (${report.image.path})`}` +
      (report.image.version === null ? "" : `, version ${report.image.version}`) +
      (report.image.source === null ? "" : `, from ${report.image.source}`),
  );
  if (report.lastStart !== null) {
    const how = report.lastStart.kind === "resume" ? "resumed" : "cold boot";
    lines.push(`started:  ${how} at ${report.lastStart.at}: ${report.lastStart.reason}`);
  }
  const saved = report.snapshots.length === 0 ? "none" : report.snapshots.join(", ");
  lines.push(`saved:    ${saved}${report.resetPending ? " (reset pending: the next start resumes fresh)" : ""}`);
  lines.push("services:");
  for (const service of report.services) {
    const state = service.up ? style("green", "up  ") : style("red", "down");
    const detail = service.up || service.detail === "" ? "" : `  ${service.detail}`;
    const checked = service.lastCheck === null ? "" : style("dim", `  checked ${service.lastCheck}`);
    lines.push(`  ${state} ${service.name.padEnd(10)} ${service.url}${detail}${checked}`);
  }
  if (report.programs !== undefined && report.programs !== null) {
    const healthy = report.programs.filter((p) => p.healthy).length;
    const at = report.programs[0]?.checkedAt;
    lines.push(
      `programs: ${healthy} of ${report.programs.length} healthy (in the guest's container)${at === undefined ? "" : style("dim", `  checked ${at}`)}`,
    );
    for (const program of report.programs) {
      const state = program.healthy ? style("green", "ok  ") : style("red", "fail");
      lines.push(`  ${state} ${program.name.padEnd(14)} ${style("dim", program.detail)}`);
    }
  } else if (report.programs === null && (report.vm.state === "running" || report.vm.state === "starting")) {
    lines.push(
      "programs: not checked yet (the guest checks them in the background: run `stack emulator status` again in a few seconds)",
    );
  }
  return `${lines.join("\n")}\n`;
}

const SYMBOL: Record<Verdict, [string, "green" | "yellow" | "red"]> = {
  ok: ["ok  ", "green"],
  warn: ["warn", "yellow"],
  fail: ["FAIL", "red"],
};

export function renderDoctorText(report: DoctorReport, style: Style): string {
  const lines = [
    `host: ${report.host.os} ${report.host.arch}, ${report.host.cpus} CPUs, ${report.host.memoryMb} MB; guest arch ${report.arch}; home ${report.home}`,
    "",
  ];
  for (const check of report.checks) {
    const [word, colour] = SYMBOL[check.verdict];
    lines.push(`${style(colour, word)} ${style("bold", check.title)}: ${check.summary}`);
    if (check.fix !== null) lines.push(`     fix: ${check.fix}`);
  }
  const fails = report.checks.filter((c) => c.verdict === "fail").length;
  const warns = report.checks.filter((c) => c.verdict === "warn").length;
  lines.push(
    "",
    report.verdict === "fail"
      ? style("red", `${fails} problem${fails === 1 ? "" : "s"} to fix before the emulator can run.`)
      : report.verdict === "warn"
        ? style("yellow", `No blocking problem; ${warns} warning${warns === 1 ? "" : "s"}.`)
        : style("green", "Everything is ready."),
  );
  return `${lines.join("\n")}\n`;
}
