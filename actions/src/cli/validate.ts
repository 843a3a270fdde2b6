/**
 * `pte-farm validate`: checks a matrix (matrix/load.ts) and says in one paragraph what it covers.
 * Problems are ConfigurationErrors naming file:line:column and the allowed values (exit 2).
 */
import { parseArgs } from "node:util";
import { allCells, cellSet } from "../../../matrix/cells.ts";
import { loadFarm } from "../../../matrix/load.ts";
import { EXIT, type ExitCode } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { DEFAULT_MATRIX, displayPath } from "../core/paths.ts";
import { usageErrors } from "./args.ts";

export const VALIDATE_USAGE = "pte-farm validate [--matrix FILE]";

/** Checks a matrix; logs a one-paragraph summary of what it covers. */
async function validateCommand(opts: { matrix: string; logger: Logger }): Promise<void> {
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

/** `pte-farm validate …`: argv in, exit code out. */
export async function validateCli(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values } = usageErrors("validate", () =>
    parseArgs({
      args: argv,
      options: { matrix: { type: "string" }, help: { type: "boolean", short: "h" } },
    }),
  );
  if (values.help) {
    logger.info(VALIDATE_USAGE);
    return EXIT.ok;
  }
  await validateCommand({ matrix: values.matrix ?? DEFAULT_MATRIX, logger });
  return EXIT.ok;
}
