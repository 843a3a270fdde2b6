/**
 * `pte-farm validate`: checks a matrix (matrix/load.ts) and says in one paragraph what it covers.
 * Problems are ConfigurationErrors naming file:line:column and the allowed values (exit 2).
 * Then every model folder on disk (a hub model only when its pinned revision is in the local cache)
 * is loaded by the toolchain's Python as the stages will load it (pipeline/model-folders.ts): a
 * folder that does not load is exit 2 naming the file. `--files-only` skips that (no Python needed).
 */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { allCells, cellSet } from "../../../matrix/cells.ts";
import { loadFarm } from "../../../matrix/load.ts";
import { EXIT, type ExitCode, InfrastructureError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { DEFAULT_MATRIX, defaultPython, displayPath } from "../core/paths.ts";
import { checkModelFolders, type FolderModel } from "../pipeline/model-folders.ts";
import { cachedSnapshot } from "../pipeline/runnable-cell.ts";
import { usageErrors } from "./args.ts";

export const VALIDATE_USAGE = "pte-farm validate [--matrix FILE] [--files-only]";

/** Checks a matrix; logs a one-paragraph summary of what it covers. */
async function validateCommand(opts: {
  matrix: string;
  filesOnly: boolean;
  python: string;
  logger: Logger;
}): Promise<void> {
  const farm = await loadFarm(opts.matrix);
  const folders: FolderModel[] = [];
  const notCached: string[] = [];
  for (const m of farm.models.values()) {
    const dir = m.path ?? (m.hub === null ? null : cachedSnapshot(m.hub));
    if (dir === null) notCached.push(m.name);
    else folders.push({ ...m, path: dir });
  }
  if (!opts.filesOnly) {
    if (!existsSync(opts.python)) {
      throw new InfrastructureError(
        `the toolchain's python ${opts.python} does not exist, so the model folders cannot be loaded: run ` +
          "`make setup` or set PTE_FARM_PYTHON, or pass --files-only to check the matrix and the files' presence alone",
      );
    }
    await checkModelFolders(folders, opts.python);
  }
  const sets = [...farm.cellSets.keys()].map((name) => {
    const { cells, skipped } = cellSet(farm, name);
    return `${name} ${cells.length}${skipped.length === 0 ? "" : ` (+${skipped.length} skipped)`}`;
  });
  const n = (count: number, noun: string) => `${count} ${noun}${count === 1 ? "" : "s"}`;
  opts.logger.info(
    `${displayPath(opts.matrix)}: valid. ${n(farm.devices.size, "device")}, ${n(farm.models.size, "model")}, ` +
      `${n(farm.recipes.size, "recipe")}, ${n(farm.backends.size, "backend")}, ${n(farm.toolchains.size, "toolchain")}; ` +
      `${n(allCells(farm).length, "possible cell")}; cell sets: ${sets.join(", ")}. ` +
      (opts.filesOnly
        ? "Model folders: files present (not loaded: --files-only)"
        : `Model folders: ${n(folders.length, "model")} load` +
          (notCached.length === 0 ? "" : `; not on this machine (hub, not cached): ${notCached.join(", ")}`)),
  );
}

/** `pte-farm validate …`: argv in, exit code out. */
export async function validateCli(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values } = usageErrors("validate", () =>
    parseArgs({
      args: argv,
      options: {
        matrix: { type: "string" },
        "files-only": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }),
  );
  if (values.help) {
    logger.info(VALIDATE_USAGE);
    return EXIT.ok;
  }
  await validateCommand({
    matrix: values.matrix ?? DEFAULT_MATRIX,
    filesOnly: values["files-only"] === true,
    python: defaultPython(),
    logger,
  });
  return EXIT.ok;
}
