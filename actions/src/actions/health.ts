/**
 * The health action: the host checks of health.ts for the device this runner serves, against the
 * pins of the toolchain its cells use. It writes the report, sets the state, and fails the step
 * unless the state is good, so a device job stops before measuring on a sick runner.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { loadFarm, unknownName } from "../../../matrix/load.ts";
import { ConfigurationError, EXIT } from "../errors.ts";
import { checkHealth } from "../health.ts";
import { defaultPython } from "../paths.ts";
import { defineAction, VerdictFailure } from "./io.ts";

export const run = defineAction("health", async (io) => {
  const farm = await loadFarm(io.path("matrix"));
  const device = io.required("device");
  const toolchainName = io.required("toolchain");
  if (!farm.devices.has(device))
    throw new ConfigurationError(`input device: ${unknownName("device", device, farm.devices.keys())}`);
  const toolchain = farm.toolchains.get(toolchainName);
  if (toolchain === undefined) {
    throw new ConfigurationError(
      `input toolchain: ${unknownName("toolchain", toolchainName, farm.toolchains.keys())}`,
    );
  }
  const outDir = io.path("out-dir");
  const maintenanceFile = io.path("maintenance-file");
  const report = await checkHealth(
    {
      python: io.path("python") || defaultPython(),
      pinsFile: toolchain.requirements,
      diskPath: outDir,
      minFreeDiskMb: io.int("min-free-disk-mb", 0),
      minFreeMemoryMb: io.int("min-free-memory-mb", 0),
      maintenanceFile: maintenanceFile === "" ? null : maintenanceFile,
    },
    { device, toolchain: toolchainName },
  );
  const file = path.join(outDir, "health.json");
  await mkdir(outDir, { recursive: true });
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);

  const lines = report.checks.map((c) => `| ${c.name} | ${c.status} | ${c.detail.replaceAll("|", "\\|")} |`);
  for (const c of report.checks) io.logger.info(`${c.status.padEnd(7)} ${c.name}: ${c.detail}`);
  io.output("state", report.state);
  io.output("report", file);
  await io.summary(
    `### pte-farm health: ${device} is ${report.state}\n\n` +
      (report.maintenance === null ? "" : `maintenance: ${report.maintenance}\n\n`) +
      `| check | status | detail |\n|---|---|---|\n${lines.join("\n")}\n`,
  );
  if (report.state !== "good") {
    const why =
      report.maintenance ??
      report.checks
        .filter((c) => c.status !== "pass")
        .map((c) => `${c.name}: ${c.detail}`)
        .join("; ");
    // A sick runner is infrastructure (exit 3), like a stage killed by the OOM killer.
    throw new VerdictFailure(`runner health is ${report.state} for ${device}: ${why}`, EXIT.infra);
  }
});
