/**
 * The Pi 5's instruction set in every CI run: ExecuTorch's real aarch64 runtime (the package
 * index's aarch64 torch and executorch wheels) under QEMU user mode with `-cpu cortex-a76`, the
 * Pi 5's core, standing in for the board (which cannot run here). The `.pte` files are the x86_64
 * build's, as a Pi receives them; the gate is bit-exact against the FP32 reference as on any device.
 */

import { existsSync } from "node:fs";
import { cp, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { loadCompareConfig } from "../actions/src/compare/config.ts";
import { cleanSamples } from "../actions/src/compare/detect.ts";
import { compareRecords } from "../actions/src/compare/verdicts.ts";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { parseJson } from "../actions/src/core/validate.ts";
import { arm64EnvDir } from "../actions/src/drivers/emulation.ts";
import { runRecord } from "../actions/src/schemas/run-record.ts";
import { hasRealPython, hasTinyLlama, realPython, required, tempDir } from "./helpers/env.ts";

const CLI = path.join(REPO_ROOT, "actions", "src", "cli", "pte-farm.ts");
const envBuilt = existsSync(path.join(arm64EnvDir(), "env.json"));
const ready = required(
  hasRealPython && hasTinyLlama && envBuilt,
  "the venv, tiny-llama and the arm64 environment (make setup)",
);
const why = ready ? "" : " [SKIPPED here: needs make setup (venv and make arm64-env)]";
const CELLS = ["fp32", "8da4w-g32"].flatMap((recipe) =>
  ["xnnpack", "portable"].map((backend) => `tiny-llama/${recipe}/${backend}/pi5-emu@stable`),
);

function run(args: string[], env: Record<string, string> = {}) {
  return execa(process.execPath, [CLI, "run", ...args], {
    reject: false,
    cwd: REPO_ROOT,
    env: { PTE_FARM_PYTHON: realPython, ...env },
  });
}

async function record(out: string, cell: string) {
  const file = path.join(out, "cells", ...cell.split("/"), "run.json");
  return parseJson(runRecord, await readFile(file, "utf8"), file);
}

describe.skipIf(!ready)("the emulated Pi 5 (pi5-emu, qemu-aarch64 -cpu cortex-a76)", () => {
  it(`gates the host cells bit-exact on the aarch64 runtime, and its timings give no verdict${why}`, async () => {
    const out = await tempDir("pte-farm-emu-");
    const res = await run(["--cells", CELLS.join(","), "--out", out, "--reps", "2", "--warmup", "0"]);
    expect(res.exitCode, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect(res.stderr).toContain("is emulated (arm64 cortex-a76 under QEMU user mode)");
    for (const cell of CELLS) {
      const r = await record(out, cell);
      expect(r.status, cell).toBe("pass");
      expect(r.gate?.verdict, cell).toBe("pass");
      // The runtime that ran was aarch64: the device toolchain is the aarch64 wheels', not the host's.
      expect(r.device.arch).toBe("arm64");
      expect(r.device.emulation?.cpu_model).toBe("cortex-a76");
      expect(r.device.emulation?.qemu).toMatch(/^qemu-aarch64 version \d+\./);
      expect(r.device.emulation?.host_arch).toBe("x64");
      expect(r.roofline ?? null).toBeNull();
      // Tokens are every prompt's, and all equal the reference's.
      for (const t of r.tokens) {
        const want = t.quantized_reference_ids ?? t.reference_ids;
        expect(t.generated_ids).toEqual(want);
      }
      // Timings exist (as QEMU measured them) but feed no detection and no comparison.
      expect(r.metrics.decode_tokens_per_sec?.samples.length).toBe(2);
      expect(cleanSamples(r, "decode_tokens_per_sec")).toEqual([]);
      expect(cleanSamples(r, "pte_bytes").length).toBeGreaterThan(0);
      const cmp = compareRecords(r, r, await loadCompareConfig());
      expect(Object.keys(cmp.metrics)).toEqual(["pte_bytes"]);
      expect(cmp.notes.join("\n")).toContain("decode_tokens_per_sec: emulated device");
    }
    const summary = await readFile(path.join(out, "summary.md"), "utf8");
    expect(summary).toMatch(/pi5-emu@stable \| pass \| pass .*\(emulated\)/);
  });

  it(`a missing arm64 environment is an infrastructure error that says what to build${why}`, async () => {
    const out = await tempDir("pte-farm-emu-");
    const res = await run(["--cells", CELLS[1] ?? "", "--out", out], {
      PTE_FARM_ARM64_ENV: path.join(out, "none"),
    });
    expect(res.exitCode).toBe(3);
    expect(res.stderr).toContain("is not built: run make arm64-env");
  });

  it(`a CPU model the installed QEMU lacks is bad input naming the ones it has${why}`, async () => {
    const dir = await tempDir("pte-farm-emu-matrix-");
    await cp(path.join(REPO_ROOT, "matrix"), dir, { recursive: true });
    const file = path.join(dir, "farm.yml");
    const text = await readFile(file, "utf8");
    await writeFile(file, text.replace("qemu_cpu: cortex-a76", "qemu_cpu: cortex-a99"));
    const res = await run(["--matrix", file, "--cells", CELLS[1] ?? "", "--out", path.join(dir, "out")]);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(
      /qemu_cpu cortex-a99 is not a CPU model of the installed QEMU .*it has: .*cortex-a76/,
    );
  });
});
