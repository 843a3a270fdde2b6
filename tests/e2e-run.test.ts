/**
 * End to end with the real toolchain and the real stages: slow (a cold cell is ~1 minute on two
 * cores), so there are few of these. They skip, saying why in their name, when the venv, the
 * stages or the shipped model are missing.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { parseJson } from "../actions/src/core/validate.ts";
import { runRecord } from "../actions/src/schemas/run-record.ts";
import { STAGES } from "../actions/src/schemas/stage.ts";
import { hasRealPython, hasRealStage, hasTinyLlama, realPython, tempDir } from "./helpers/env.ts";

const ready = hasRealPython && hasTinyLlama && STAGES.every(hasRealStage);
const why = ready
  ? ""
  : " [SKIPPED here: needs .venv (make setup), stages/pte_stages/*.py and stages/models/tiny-llama]";
const CLI = path.join(REPO_ROOT, "actions", "src", "cli", "pte-farm.ts");
const CELL = "tiny-llama/8da4w-g32/xnnpack/host-x86_64@stable";

async function run(out: string, cache: string) {
  return execa(
    process.execPath,
    [CLI, "run", "--cells", CELL, "--out", out, "--reps", "1", "--warmup", "0"],
    {
      reject: false,
      cwd: REPO_ROOT,
      env: { PTE_FARM_PYTHON: realPython, PTE_FARM_CACHE: cache },
    },
  );
}

async function record(out: string) {
  const file = path.join(out, "cells", ...CELL.split("/"), "run.json");
  return parseJson(runRecord, await readFile(file, "utf8"), file);
}

describe.skipIf(!ready)("pte-farm run, real stages", () => {
  it(`runs a quantized cell cold, gates it bit-exact against eager quantized, then serves every build from the cache${why}`, async () => {
    const cache = await tempDir("pte-farm-cache-");
    const cold = path.join(await tempDir(), "out");
    const first = await run(cold, cache);
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    for (const stage of STAGES)
      expect(first.stdout).toMatch(new RegExp(`\\d\\d:\\d\\d:\\d\\d  ${stage} .* ok in \\d+\\.\\ds`));
    const a = await record(cold);
    expect(a.status).toBe("pass");
    expect(a.gate).toMatchObject({
      verdict: "pass",
      policy: { reference: "quantized", fp32: "report" },
      first_divergence: null,
    });
    expect(a.tokens[0]?.generated_ids).toEqual(a.tokens[0]?.quantized_reference_ids);
    expect(a.toolchain.build?.executorch).toBe(a.toolchain.device?.executorch);
    // The record names the bytes it measured: the lower stage's .pte, as its manifest gives it.
    const lowered = a.stages.find((s) => s.stage === "lower")?.dir ?? "(no lower stage)";
    const built = JSON.parse(await readFile(path.resolve(cold, lowered, "manifest.json"), "utf8"));
    expect(a.pte).toEqual({ sha256: built.pte.sha256, bytes: built.pte.bytes });
    expect(a.metrics.decode_tokens_per_sec?.samples).toHaveLength(1);
    expect(a.stages.map((s) => [s.stage, s.cache])).toEqual([
      ["reference", "miss"],
      ["export", "miss"],
      ["quantize", "miss"],
      ["lower", "miss"],
      ["execute", "off"],
    ]);
    const summary = await readFile(path.join(cold, "summary.md"), "utf8");
    expect(summary).toContain(`| ${CELL} | pass | pass (bit-exact quantized, fp32 `);

    const warm = path.join(await tempDir(), "out");
    const second = await run(warm, cache);
    expect(second.exitCode, second.stdout + second.stderr).toBe(0);
    const b = await record(warm);
    expect(b.stages.filter((s) => s.cache === "hit").map((s) => s.stage)).toEqual([
      "reference",
      "export",
      "quantize",
      "lower",
    ]);
    expect(second.stdout).toContain("lower     tiny-llama/8da4w-g32/xnnpack  cache hit");
    expect(b.tokens).toEqual(a.tokens);
    expect(summary.split("\n").length).toBeGreaterThan(4);
  });
});

describe.skipIf(!hasRealPython || !hasTinyLlama)("pte-farm run, failure paths", () => {
  // @fault timeout-kills-tree | `pte-farm run --timeout-s 1` on a real reference stage | exit 3; the run record says timeout in stage reference; summary.md says so
  it(`exits 3 when a stage times out, records status timeout and notes it in summary.md${why}`, async () => {
    const out = path.join(await tempDir(), "out");
    const res = await execa(
      process.execPath,
      [
        CLI,
        "run",
        "--cells",
        "tiny-llama/fp32/portable/host-x86_64@stable",
        "--out",
        out,
        "--no-cache",
        "--timeout-s",
        "1",
      ],
      { reject: false, cwd: REPO_ROOT, env: { PTE_FARM_PYTHON: realPython } },
    );
    expect(res.exitCode).toBe(3);
    expect(res.stderr).toMatch(
      /^error: stage reference: timeout: timed out after 1 s; its process group was killed$/m,
    );
    const file = path.join(out, "cells", "tiny-llama", "fp32", "portable", "host-x86_64@stable", "run.json");
    const r = parseJson(runRecord, await readFile(file, "utf8"), file);
    expect(r.status).toBe("timeout");
    expect(r.failure).toMatchObject({ stage: "reference", outcome: "timeout" });
    expect(r.stages).toHaveLength(1);
    const summary = await readFile(path.join(out, "summary.md"), "utf8");
    expect(summary).toContain("| tiny-llama/fp32/portable/host-x86_64@stable | timeout |");
    expect(summary).toContain("new failure in stage reference with toolchain stable");
  });
});
