/**
 * `pte-farm validate` and `pte-farm plan`: thin wrappers that read files and the environment, call
 * the pure matrix code (matrix/plan.ts, matrix/shard.ts) and write the results. Problems are thrown
 * as ConfigurationErrors; main.ts turns them into exit code 2.
 */
import { appendFile } from "node:fs/promises";
import { allCells, cellSet } from "../../../matrix/cells.ts";
import { loadFarm } from "../../../matrix/load.ts";
import { githubOutput, readableJson } from "../../../matrix/shard.ts";
import type { Logger } from "../core/logger.ts";
import { displayPath } from "../core/paths.ts";
import { type PlanOptions, planOutputs } from "../plan/outputs.ts";

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

export interface PlanCommandOptions extends PlanOptions {
  /** `GITHUB_OUTPUT` comes from here (tests pass their own). */
  env: NodeJS.ProcessEnv;
}

/** Prints the plan as JSON on stdout, and appends it to `$GITHUB_OUTPUT` when that is set. */
export async function planCommand(opts: PlanCommandOptions): Promise<void> {
  const out = await planOutputs(opts);
  opts.logger.info(readableJson(out));
  const target = opts.env.GITHUB_OUTPUT;
  if (target !== undefined && target !== "") await appendFile(target, githubOutput(out));
}
