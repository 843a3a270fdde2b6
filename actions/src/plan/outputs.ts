/**
 * The plan in its published shape: reads the matrix, the changed files, the base's matrix and the
 * history store's quarantine, and calls the pure planner (matrix/plan.ts, matrix/shard.ts).
 * `pte-farm plan` prints it; the plan action sets it as outputs.
 */
import { readFile } from "node:fs/promises";
import { loadFarm } from "../../../matrix/load.ts";
import { plan } from "../../../matrix/plan.ts";
import type { FarmEvent } from "../../../matrix/schema.ts";
import { planOutput } from "../../../matrix/shard.ts";
import type { Farm } from "../../../matrix/types.ts";
import { ConfigurationError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { storedDeviceStates } from "../health/device-states.ts";
import { quarantinedDevices } from "../health/quarantine.ts";

export interface PlanOptions {
  matrix: string;
  event: FarmEvent;
  changedFiles?: string;
  baseMatrix?: string;
  /** A history store (`dir:` or `git:`): quarantined devices get no jobs (actions/src/health/quarantine.ts). */
  history?: string;
  logger: Logger;
}

async function readChangedFiles(file: string): Promise<string[]> {
  const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new ConfigurationError(
      `cannot read --changed-files ${file} (${err.code ?? err.message}); pass a file with one path per line`,
    );
  });
  return text
    .split("\n")
    .map((l) => l.trim().replace(/^\.\//, ""))
    .filter((l) => l !== "");
}

/** The plan in its published shape (matrix/shard.ts): what `pte-farm plan` prints and the plan action outputs. */
export async function planOutputs(opts: PlanOptions): Promise<Record<string, unknown>> {
  const farm = await loadFarm(opts.matrix);
  // The base's matrix was validated on its own branch; here it is only diffed, so no file checks.
  // A base that does not validate here (an older format, say) cannot be diffed: the matrix change
  // then touches every candidate cell, and the reasons say why, rather than failing the plan.
  let base: Farm | null = null;
  let noBase: string | undefined;
  if (opts.baseMatrix !== undefined) {
    try {
      base = await loadFarm(opts.baseMatrix, { knownIssues: null, checkFiles: false });
    } catch (err) {
      if (!(err instanceof ConfigurationError)) throw err;
      noBase = "the base matrix does not validate here";
      opts.logger.warn(`--base-matrix: ${err.message}; diffing the matrix is not possible`);
    }
  }
  const changed = opts.changedFiles === undefined ? null : await readChangedFiles(opts.changedFiles);
  let quarantined: Map<string, string> | undefined;
  if (opts.history !== undefined) {
    const states = await storedDeviceStates(farm, opts.history);
    quarantined = quarantinedDevices(states);
    for (const [device, why] of quarantined) opts.logger.warn(`device ${device} is quarantined: ${why}`);
  }
  return planOutput(
    plan(farm, {
      event: opts.event,
      changed,
      base,
      ...(noBase === undefined ? {} : { noBase }),
      ...(quarantined === undefined ? {} : { quarantined }),
    }),
  );
}
