/**
 * The hub models' twins (matrix cell set `twins`) through `pte-farm run`, one twin per test file so
 * the files run side by side. Every cell builds into one cache shared by the twin files
 * (`.cache/pte-farm-twins`), so a rerun, or the sliding-window test's build, reuses what is there.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { expect } from "vitest";
import { DEFAULT_MATRIX, REPO_ROOT } from "../../actions/src/core/paths.ts";
import { parseJson } from "../../actions/src/core/validate.ts";
import { type RunRecord, runRecord } from "../../actions/src/schemas/run-record.ts";
import { cellSet } from "../../matrix/cells.ts";
import { loadFarm } from "../../matrix/load.ts";
import { realPython, tempDir } from "./env.ts";

const CLI = path.join(REPO_ROOT, "actions", "src", "cli", "pte-farm.ts");
export const TWINS_CACHE = path.join(REPO_ROOT, ".cache", "pte-farm-twins");

/** The `twins` set's cells of one model, from the shipped matrix. */
export async function twinCells(model: string): Promise<string[]> {
  const farm = await loadFarm(DEFAULT_MATRIX);
  return cellSet(farm, "twins")
    .cells.filter((c) => c.model.name === model)
    .map((c) => c.id)
    .sort();
}

/** Runs every `twins` cell of `model` (1 rep, no warm-up: tokens and numerics, not speed). */
export async function runTwin(
  model: string,
): Promise<{ records: RunRecord[]; log: string; exitCode: number }> {
  const out = await tempDir(`pte-farm-twin-${model}-`);
  const cells = await twinCells(model);
  const res = await execa(
    process.execPath,
    [CLI, "run", "--cells", `${model}/*/*/host-x86_64@stable`, "--reps", "1", "--warmup", "0", "--out", out],
    {
      reject: false,
      all: true,
      env: { PTE_FARM_PYTHON: realPython, PTE_FARM_CACHE: TWINS_CACHE, HF_HUB_OFFLINE: "1" },
    },
  );
  const records: RunRecord[] = [];
  for (const id of cells) {
    const [m, r, b, d] = id.split("/") as [string, string, string, string];
    const file = path.join(out, "cells", m, r, b, d, "run.json");
    expect(existsSync(file), `${id}: no run record\n${res.all}`).toBe(true);
    records.push(parseJson(runRecord, await readFile(file, "utf8"), file));
  }
  return { records, log: String(res.all), exitCode: res.exitCode ?? -1 };
}

/**
 * Every cell gates: tokens bit-exact against its policy's reference, and the numerics within the
 * recipe's tolerance. A failure shows the stage, its triage and the log's tail.
 */
export function expectEveryCellGates(run: { records: RunRecord[]; log: string; exitCode: number }): void {
  for (const r of run.records) {
    const why = `${r.cell.id}: ${r.status} ${JSON.stringify(r.failure ?? r.gate?.numerics?.worst ?? null)}`;
    expect(r.status, `${why}\n${run.log.slice(-4000)}`).toBe("pass");
    expect(r.gate?.verdict, why).toBe("pass");
    expect(r.gate?.first_divergence, why).toBeNull();
    expect(r.gate?.numerics?.verdict, why).toBe("pass");
    for (const t of r.tokens) {
      const want = r.gate?.policy.reference === "quantized" ? t.quantized_reference_ids : t.reference_ids;
      expect(t.generated_ids, why).toEqual(want);
    }
  }
  expect(run.exitCode, run.log.slice(-4000)).toBe(0);
}
