/**
 * Execute, as every caller runs it: through the driver registry. The execute action runs the
 * driver of the cell's device (the job is on that device); `pte-farm run` runs the driver of the
 * device this machine is — the cell's own when the cell's device is this kind of machine (a Pi 5
 * cell on a Pi 5), else ExecuTorch's Python runtime, so a board's cell reproduces its build, tokens
 * and gate on a laptop (its timings are then the laptop's).
 */
import { type Cell, thisMachine } from "../../../matrix/cells.ts";
import { ConfigurationError } from "../core/errors.ts";
import type { DriverRequest, DriverRun, ExecuteDriver } from "../drivers/driver.ts";
import { driverFor, EXECUTE_DRIVERS } from "../drivers/registry.ts";
import type { Manifest } from "../schemas/manifest.ts";

/** The env var provisioning sets to the ExecuTorch release a native runner was built from. */
export const RUNNER_EXECUTORCH_ENV = "PTE_FARM_RUNNER_EXECUTORCH";

/** The driver `pte-farm run` uses for a cell on this machine (see the file comment). */
export function localDriver(cell: Cell, here = thisMachine()): ExecuteDriver {
  const d = cell.device;
  return d.os === here.os && d.arch === here.arch ? driverFor(cell) : EXECUTE_DRIVERS["python-runtime"];
}

/** Refuses a manifest that is not a build of this cell (model, recipe, backend and toolchain). */
export function checkBuildOf(cell: Cell, manifest: Manifest, manifestPath: string): void {
  const built = manifest.cell;
  const mismatch = (["model", "recipe", "backend", "toolchain"] as const).filter(
    (k) => built[k] !== cell.ref[k],
  );
  if (mismatch.length > 0) {
    throw new ConfigurationError(
      `input manifest ${manifestPath}: built for ${built.id ?? JSON.stringify(built)}, not a build of cell ${cell.id} ` +
        `(${mismatch.join(", ")} differ)`,
    );
  }
}

/** Runs a built `.pte` of the cell with `driver`: the one execute path of the action and the CLI. */
export function executeCell(driver: ExecuteDriver, req: DriverRequest): Promise<DriverRun> {
  checkBuildOf(req.cell, req.manifest, req.manifestPath);
  if (req.base !== undefined && !driver.interleaves) {
    throw new ConfigurationError(
      `cell ${req.cell.id}: the ${driver.name} driver cannot measure a base .pte interleaved with the head's; ` +
        "an interleaved session (--base-out) needs the python-runtime driver",
    );
  }
  return driver.execute(req);
}
