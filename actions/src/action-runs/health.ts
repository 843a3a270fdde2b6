/**
 * The health action: health/run.ts's checks for the device this runner serves, against the pins
 * of the toolchain its cells use. It writes the report (and appends it to a history store when
 * given one, which is how a passing check lifts a quarantine), sets the state, and fails the step
 * unless the state is good, so a device job stops before measuring on a sick runner.
 */
import { loadFarm } from "../../../matrix/load.ts";
import { EXIT } from "../core/errors.ts";
import { defaultCacheDir, defaultPython } from "../core/paths.ts";
import { checkDevice, healthMarkdown, healthProblem } from "../health/run.ts";
import { defineAction, VerdictFailure } from "./io.ts";

export const run = defineAction("health", async (io) => {
  const farm = await loadFarm(io.path("matrix"));
  const maintenanceFile = io.path("maintenance-file");
  const history = io.input("history");
  const { report, file, stored } = await checkDevice({
    farm,
    device: io.required("device"),
    toolchain: io.required("toolchain"),
    python: io.path("python") || defaultPython(),
    outDir: io.path("out-dir"),
    cacheDir: io.path("cache-dir") || defaultCacheDir(),
    minFreeDiskMb: io.int("min-free-disk-mb", 0),
    minFreeMemoryMb: io.int("min-free-memory-mb", 0),
    maintenanceFile: maintenanceFile === "" ? null : maintenanceFile,
    ...(history === "" ? {} : { history }),
    labels: { device: "input device", toolchain: "input toolchain" },
  });
  for (const c of report.checks) io.logger.info(`${c.status.padEnd(7)} ${c.name}: ${c.detail}`);
  if (stored !== null) io.logger.info(`stored in ${history}: ${stored}`);
  io.output("state", report.state);
  io.output("report", file);
  io.output("checks", Object.fromEntries(report.checks.map((c) => [c.name, c.status])));
  await io.summary(healthMarkdown(report));
  if (report.state !== "good") {
    // A sick runner is infrastructure (exit 3), like a stage killed by the OOM killer.
    throw new VerdictFailure(
      `runner health is ${report.state} for ${report.device}: ${healthProblem(report)}`,
      EXIT.infra,
    );
  }
});
