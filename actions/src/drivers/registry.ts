/**
 * The execute drivers by the name a device's `driver` gives in matrix/farm.yml. The matrix schema
 * only admits these names (matrix/schema.ts DRIVERS); a driver missing here is our bug.
 */
import type { Cell } from "../../../matrix/cells.ts";
import { DRIVERS, type Driver } from "../../../matrix/schema.ts";
import type { ExecuteDriver } from "./driver.ts";
import { fvpDriver } from "./fvp/driver.ts";
import { llamaMainDriver } from "./llama-main/driver.ts";
import { pythonRuntimeDriver } from "./python-runtime.ts";

export const EXECUTE_DRIVERS: Record<Driver, ExecuteDriver> = {
  "python-runtime": pythonRuntimeDriver,
  "llama-main": llamaMainDriver,
  fvp: fvpDriver,
};

/** The driver of the cell's device. */
export function driverFor(cell: Cell): ExecuteDriver {
  const driver = EXECUTE_DRIVERS[cell.device.driver];
  if (driver === undefined) {
    throw new Error(
      `bug: device ${cell.device.name} has driver ${cell.device.driver}; known: ${DRIVERS.join(", ")}`,
    );
  }
  return driver;
}
