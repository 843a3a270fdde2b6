/**
 * One farm device's health check, shared by the health action and `pte-farm health`: resolves the
 * device and toolchain in the matrix (bad names are ConfigurationErrors naming the known ones),
 * builds the check context from them, runs the checks in order, writes `health.json`, and, given a
 * history store, appends the report there so quarantine.ts can lift or impose a quarantine.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { unknownName } from "../../../matrix/load.ts";
import type { Farm } from "../../../matrix/types.ts";
import { ConfigurationError, InfrastructureError } from "../core/errors.ts";
import { silentLogger } from "../core/logger.ts";
import { openStore } from "../history/open.ts";
import { ensureEnv } from "../toolchain/envs.ts";
import type { Lock } from "../toolchain/lock.ts";
import { ToolchainIncompatibleError } from "../toolchain/resolve.ts";
import {
  checkHealth,
  diskCheck,
  type HealthCheck,
  type HealthContext,
  type HealthReport,
  memoryCheck,
  stagesImportCheck,
  toolchainCheck,
} from "./checks.ts";
import { emulationCheck } from "./emulation.ts";
import { smokeCheck } from "./smoke.ts";
import { temperatureCheck, thermalExpectations, throttleCheck } from "./thermal.ts";

/** The checks of a farm device, in the order they are reported: cheap ones first, the smoke `.pte` last. */
export const DEVICE_CHECKS: readonly HealthCheck[] = [
  diskCheck,
  memoryCheck,
  temperatureCheck,
  throttleCheck,
  toolchainCheck,
  stagesImportCheck,
  smokeCheck,
];

/** An emulated device's: QEMU and the arm64 environment before the smoke `.pte` runs on them. */
export const EMULATED_DEVICE_CHECKS: readonly HealthCheck[] = [
  ...DEVICE_CHECKS.slice(0, -1),
  emulationCheck,
  smokeCheck,
];

export interface DeviceHealthOptions {
  farm: Farm;
  device: string;
  toolchain: string;
  python: string;
  /** health.json goes here; the disk check measures its file system. */
  outDir: string;
  cacheDir: string | null;
  minFreeDiskMb: number;
  minFreeMemoryMb: number;
  maintenanceFile: string | null;
  /** A history store (`dir:` or `git:`) to append the report to; absent: not stored. */
  history?: string;
  probe?: HealthContext["probe"];
  /** How the caller names its device and toolchain inputs, for error messages (`--device`, `input device`). */
  labels?: { device: string; toolchain: string };
  checks?: readonly HealthCheck[];
  /** The lock of a channel toolchain (required for one): checked in its environment, against its versions. */
  lock?: Lock;
}

export interface DeviceHealth {
  report: HealthReport;
  /** The health.json written. */
  file: string;
  /** The report's path in the history store, or null when none was given. */
  stored: string | null;
}

export async function checkDevice(opts: DeviceHealthOptions): Promise<DeviceHealth> {
  const labels = opts.labels ?? { device: "device", toolchain: "toolchain" };
  const device = opts.farm.devices.get(opts.device);
  if (device === undefined) {
    throw new ConfigurationError(
      `${labels.device}: ${unknownName("device", opts.device, opts.farm.devices.keys())}`,
    );
  }
  const toolchain = opts.farm.toolchains.get(opts.toolchain);
  if (toolchain === undefined) {
    throw new ConfigurationError(
      `${labels.toolchain}: ${unknownName("toolchain", opts.toolchain, opts.farm.toolchains.keys())}`,
    );
  }
  // Open the store first: a bad --history is bad input, and should not wait for the smoke build.
  const store = opts.history === undefined ? null : openStore(opts.history);
  // A channel is checked in its lock's environment, against the lock's exact versions.
  let python = opts.python;
  let pinsFile = toolchain.requirements;
  if (opts.lock !== undefined) {
    const env = await ensureEnv(opts.lock, {
      python: opts.python,
      logger: silentLogger,
      logFile: path.join(opts.outDir, "toolchains.log"),
    }).catch((err: unknown) => {
      throw err instanceof ToolchainIncompatibleError ? new InfrastructureError(err.message) : err;
    });
    python = env.python;
    pinsFile = path.join(env.dir, "requirements.lock.txt");
  } else if (toolchain.channel !== null) {
    throw new ConfigurationError(
      `${labels.toolchain}: toolchain ${toolchain.name} is a channel: pass its lock (pte-farm toolchain resolve ${toolchain.name} --out LOCK.json), so the check knows which versions it must find`,
    );
  }
  const report = await checkHealth(
    {
      python,
      pinsFile,
      diskPath: opts.outDir,
      minFreeDiskMb: opts.minFreeDiskMb,
      minFreeMemoryMb: opts.minFreeMemoryMb,
      maintenanceFile: opts.maintenanceFile,
      maxTempC: opts.farm.health.maxTempC,
      expect: thermalExpectations(device),
      cacheDir: opts.cacheDir,
      emulation: device.emulation,
      ...(opts.probe === undefined ? {} : { probe: opts.probe }),
    },
    { device: device.name, toolchain: toolchain.name },
    opts.checks ?? (device.emulation === null ? DEVICE_CHECKS : EMULATED_DEVICE_CHECKS),
  );
  await mkdir(opts.outDir, { recursive: true });
  const file = path.join(opts.outDir, "health.json");
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  const stored = store === null ? null : ((await store.appendHealth([report]))[0] ?? null);
  return { report, file, stored };
}

/** Why a report is not good, in one line: the maintenance reason, else the failed (or unknown) checks. */
export function healthProblem(report: HealthReport): string {
  if (report.maintenance !== null) return report.maintenance;
  const worst = report.state === "bad" ? "fail" : "unknown";
  return report.checks
    .filter((c) => c.status === worst)
    .map((c) => `${c.name}: ${c.detail}`)
    .join("; ");
}

/** The report as a markdown table (job summary, `pte-farm health` without --json). */
export function healthMarkdown(report: HealthReport): string {
  const cell = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");
  const rows = report.checks.map((c) => `| ${c.name} | ${c.status} | ${cell(c.detail)} |`);
  return (
    `### pte-farm health: ${report.device} is ${report.state}\n\n` +
    (report.maintenance === null ? "" : `maintenance: ${report.maintenance}\n\n`) +
    `| check | status | detail |\n|---|---|---|\n${rows.join("\n")}\n`
  );
}
