/**
 * The Ethos-U path end to end with the real toolchain: `pte-farm run` on the shipped small CNN
 * (Arm's PT2E INT8 quantizer, the TOSA partitioner, the .pte on the TOSA reference model, the
 * top-1 and INT8 output gate). Slow: about a minute and a half cold on two cores.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { sha256File } from "../actions/src/core/hashing.ts";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { parseJson } from "../actions/src/core/validate.ts";
import { manifest } from "../actions/src/schemas/manifest.ts";
import { runRecord } from "../actions/src/schemas/run-record.ts";
import { STAGES } from "../actions/src/schemas/stage.ts";
import { hasRealPython, hasRealStage, realPython, tempDir } from "./helpers/env.ts";

const SMALL_CNN = path.join(REPO_ROOT, "stages", "models", "small-cnn");
const ready =
  hasRealPython && STAGES.every(hasRealStage) && existsSync(path.join(SMALL_CNN, "model.safetensors"));
const why = ready ? "" : " [SKIPPED here: needs .venv (make setup), the stages and stages/models/small-cnn]";
const CLI = path.join(REPO_ROOT, "actions", "src", "cli", "pte-farm.ts");
const TOSA_CELL = "small-cnn/ethos-u-int8/tosa/host-x86_64@stable";
const U55_CELL = "small-cnn/ethos-u-int8/ethos-u55-128/corstone-300-u55@stable";

async function run(cell: string, out: string, cache: string) {
  return execa(
    process.execPath,
    [CLI, "run", "--cells", cell, "--out", out, "--reps", "1", "--warmup", "0"],
    {
      reject: false,
      cwd: REPO_ROOT,
      env: { PTE_FARM_PYTHON: realPython, PTE_FARM_CACHE: cache },
    },
  );
}

async function record(out: string, cell: string) {
  const file = path.join(out, "cells", ...cell.split("/"), "run.json");
  return parseJson(runRecord, await readFile(file, "utf8"), file);
}

describe.skipIf(!ready)("pte-farm run, the small CNN on the Ethos-U path", () => {
  it(`runs the TOSA cell end to end and gates the reference model's INT8 output on top-1 and one quantum, then lowers for the U55 with Vela and refuses to execute that .pte on the host${why}`, async () => {
    const cache = await tempDir("pte-farm-cache-");
    const out = path.join(await tempDir(), "out");
    const res = await run(TOSA_CELL, out, cache);
    expect(res.exitCode, res.stdout + res.stderr).toBe(0);
    const r = await record(out, TOSA_CELL);
    expect(r.status).toBe("pass");
    expect(r.gate).toMatchObject({
      verdict: "pass",
      policy: { reference: "quantized", fp32: "report", max_abs_diff_q: 1 },
      first_divergence: null,
      fp32_agreement: { matching_prefix: 10, total: 10 },
    });
    expect(r.gate?.outputs?.max_abs_diff_q).toBeLessThanOrEqual(1);
    expect(r.tokens).toHaveLength(10);
    expect(r.tokens.map((t) => t.generated_ids[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(r.delegation).toMatchObject({ backend: "tosa", delegated_subgraphs: 1 });
    expect(Object.keys(r.metrics).sort()).toEqual([
      "inference_ms",
      "model_load_ms",
      "peak_rss_mb",
      "pte_bytes",
      "tosa_delegate_ms",
    ]);
    const summary = await readFile(path.join(out, "summary.md"), "utf8");
    expect(summary).toContain(`| ${TOSA_CELL} | pass | pass (top-1 = quantized, INT8 outputs ≤`);

    // The U55 cell shares reference, export and quantize (one quantized program serves every Arm
    // backend) and lowers with Vela; its .pte runs on a Corstone FVP, so execute here refuses it.
    const u55Out = path.join(await tempDir(), "out");
    const u55 = await run(U55_CELL, u55Out, cache);
    expect(u55.exitCode, u55.stdout + u55.stderr).toBe(2);
    const u = await record(u55Out, U55_CELL);
    expect(u.stages.map((s) => [s.stage, s.cache])).toEqual([
      ["reference", "hit"],
      ["export", "hit"],
      ["quantize", "hit"],
      ["lower", "miss"],
      ["execute", "off"],
    ]);
    expect(u.failure).toMatchObject({ stage: "execute", outcome: "config-error" });
    expect(u.failure?.message).toContain("an Ethos-U .pte runs on a Corstone FVP");
    expect(u.delegation).toMatchObject({ backend: "ethos-u55-128", delegated_subgraphs: 1 });
    const lower = u.stages.find((s) => s.stage === "lower")?.dir as string;
    const file = path.resolve(u55Out, lower, "manifest.json");
    const m = parseJson(manifest, await readFile(file, "utf8"), file);
    expect(m.toolchain["ethos-u-vela"]).toBe("5.1.0");
    // It also carries the bundled program the FVP's BundleIO runner checks, beside the manifest.
    expect(m.bpte).toMatchObject({ file: "model.bpte", method: "forward", test_cases: 10 });
    expect(await sha256File(path.resolve(u55Out, lower, m.bpte?.file ?? "missing"))).toBe(m.bpte?.sha256);
  }, 900_000);
});
