/**
 * `pte-farm validate` and `pte-farm plan`: thin wrappers that read files and the environment, call
 * the pure matrix code (matrix/plan.ts, matrix/shard.ts) and write the results. Problems are thrown
 * as ConfigurationErrors; main.ts turns them into exit code 2.
 */
import { appendFile, readFile } from "node:fs/promises";
import { allCells, cellSet } from "../../../matrix/cells.ts";
import { type Farm, loadFarm } from "../../../matrix/load.ts";
import { plan } from "../../../matrix/plan.ts";
import type { FarmEvent } from "../../../matrix/schema.ts";
import { githubOutput, planOutput, readableJson } from "../../../matrix/shard.ts";
import { ConfigurationError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { displayPath } from "../core/paths.ts";
import { storedDeviceStates } from "../health/device-states.ts";
import { quarantinedDevices } from "../health/quarantine.ts";

/** Checks a matrix; logs a one-paragraph summary of what it covers. */
export async function validateCommand(opts: { matrix: string; logger: Logger }): Promise<void> {
  const farm = await loadFarm(opts.matrix);
  const sets = [...farm.cellSets.keys()].map((name) => {
    const { cells, skipped } = cellSet(farm, name);
    return `${name} ${cells.length}${skipped.length === 0 ? "" : ` (+${skipped.length} skipped)`}`;
  });
  const n = (count: number, noun: string) => `${count} ${noun}${count === 1 ? "" : "s"}`;
  opts.logger.info(
    `${displayPath(opts.matrix)}: valid. ${n(farm.devices.size, "device")}, ${n(farm.models.size, "model")}, ` +
      `${n(farm.recipes.size, "recipe")}, ${n(farm.backends.size, "backend")}, ${n(farm.toolchains.size, "toolchain")}; ` +
      `${n(allCells(farm).length, "possible cell")}; cell sets: ${sets.join(", ")}`,
  );
}

export interface PlanOptions {
  matrix: string;
  event: FarmEvent;
  changedFiles?: string;
  baseMatrix?: string;
  /** A history store (`dir:` or `git:`): quarantined devices get no jobs (actions/src/health/quarantine.ts). */
  history?: string;
  logger: Logger;
  /** `GITHUB_OUTPUT` comes from here (tests pass their own). */
  env: NodeJS.ProcessEnv;
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
export async function planOutputs(opts: Omit<PlanOptions, "env">): Promise<Record<string, unknown>> {
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

/** Prints the plan as JSON on stdout, and appends it to `$GITHUB_OUTPUT` when that is set. */
export async function planCommand(opts: PlanOptions): Promise<void> {
  const out = await planOutputs(opts);
  opts.logger.info(readableJson(out));
  const target = opts.env.GITHUB_OUTPUT;
  if (target !== undefined && target !== "") await appendFile(target, githubOutput(out));
}
