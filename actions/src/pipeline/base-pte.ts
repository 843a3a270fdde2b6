/**
 * `pte-farm run --base-out DIR`: the base `.pte` of each cell, taken from an earlier run's output
 * (its run record names the lower stage's folder, which holds `model.pte` and `manifest.json`).
 * Every problem is the user's input (a wrong folder, a cell the base run did not build): exit 2.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Cell } from "../../../matrix/cells.ts";
import { ConfigurationError } from "../core/errors.ts";
import { parseJson, ValidationError } from "../core/validate.ts";
import { manifest as manifestSchema } from "../schemas/manifest.ts";
import { runRecord } from "../schemas/run-record.ts";
import type { BasePte } from "./cell.ts";
import { cellDir } from "./cell.ts";

async function readText(file: string, what: string): Promise<string> {
  return readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new ConfigurationError(`--base-out: cannot read ${what} ${file} (${err.code ?? err.message})`);
  });
}

/** The base `.pte` for `cell` in the run output `baseOut`, checked against its manifest's schema. */
export async function basePteFor(baseOut: string, cell: Cell): Promise<BasePte> {
  const recordFile = path.join(cellDir(path.resolve(baseOut), cell), "run.json");
  try {
    const rec = parseJson(
      runRecord,
      await readText(recordFile, `the base run record of ${cell.id}`),
      recordFile,
    );
    const lower = rec.stages.find((s) => s.stage === "lower" && s.outcome === "ok");
    if (lower === undefined) {
      throw new ConfigurationError(
        `--base-out: ${recordFile} has no successful lower stage, so there is no base .pte for ${cell.id}`,
      );
    }
    // Records name a stage's folder relative to the run's output folder (older ones: absolute).
    const lowerDir = path.resolve(path.resolve(baseOut), lower.dir);
    const manifestFile = path.join(lowerDir, "manifest.json");
    const man = parseJson(manifestSchema, await readText(manifestFile, "the base manifest"), manifestFile);
    return { pte: path.join(lowerDir, man.pte.file), manifest: manifestFile, sha256: man.pte.sha256 };
  } catch (err) {
    if (err instanceof ValidationError) throw new ConfigurationError(`--base-out: ${err.message}`);
    throw err;
  }
}
