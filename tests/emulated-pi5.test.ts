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
const RECIPES = ["fp32", "8da4w-g32"];
const cellsOf = (recipe: string) =>
  ["xnnpack", "xnnpack-per-op", "portable"].map(
    (backend) => `tiny-llama/${recipe}/${backend}/pi5-emu@stable`,
  );
const CELLS = RECIPES.flatMap(cellsOf);

/** The shipped matrix with `edit` applied, in a temporary folder (its known-issue catalogue beside it). */
async function matrixWith(edit: (text: string) => string): Promise<string> {
  const dir = await tempDir("pte-farm-emu-matrix-");
  await cp(path.join(REPO_ROOT, "matrix"), dir, { recursive: true });
  const file = path.join(dir, "farm.yml");
  await writeFile(file, edit(await readFile(file, "utf8")));
  return file;
}

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
  // One run per recipe: each builds its cells on the host and executes three under QEMU (a few
  // minutes each on a loaded two-core machine), so neither comes near the test timeout.
  it.each(RECIPES)(
    `gates the host cells of %s bit-exact on the aarch64 runtime, and its timings give no verdict${why}`,
    async (recipe) => {
      const cells = cellsOf(recipe);
      const out = await tempDir("pte-farm-emu-");
      // A bandwidth for the emulated board, to show that even then no roofline is drawn.
      const matrix = await matrixWith((t) =>
        t.replace(/(pi5-emu:[\s\S]*?memory_bandwidth_gbs:) null/, "$1 17.1"),
      );
      expect(await readFile(matrix, "utf8")).not.toEqual(
        await readFile(path.join(REPO_ROOT, "matrix", "farm.yml"), "utf8"),
      );
      const res = await run([
        "--matrix",
        matrix,
        "--cells",
        cells.join(","),
        "--out",
        out,
        "--reps",
        "2",
        "--warmup",
        "0",
      ]);
      expect(res.exitCode, `${res.stdout}\n${res.stderr}`).toBe(0);
      expect(res.stderr).toContain("is emulated (arm64 cortex-a76 under QEMU user mode)");
      for (const cell of cells) {
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
    },
  );

  it(`a missing arm64 environment is an infrastructure error that says what to build${why}`, async () => {
    const out = await tempDir("pte-farm-emu-");
    const res = await run(["--cells", CELLS[1] ?? "", "--out", out], {
      PTE_FARM_ARM64_ENV: path.join(out, "none"),
    });
    expect(res.exitCode).toBe(3);
    expect(res.stderr).toContain("is not built: run make arm64-env");
  });

  it(`a CPU model the installed QEMU lacks is bad input naming the ones it has${why}`, async () => {
    const file = await matrixWith((t) => t.replace("qemu_cpu: cortex-a76", "qemu_cpu: cortex-a99"));
    const res = await run([
      "--matrix",
      file,
      "--cells",
      CELLS[1] ?? "",
      "--out",
      path.join(path.dirname(file), "out"),
    ]);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(
      /qemu_cpu cortex-a99 is not a CPU model of the installed QEMU .*it has: .*cortex-a76/,
    );
  });

  it(`health runs the smoke .pte on the aarch64 runtime and reports QEMU, the CPU model and the environment${why}`, async () => {
    const out = await tempDir("pte-farm-emu-health-");
    const res = await execa(
      process.execPath,
      [CLI, "health", "--device", "pi5-emu", "--out", out, "--json"],
      {
        reject: false,
        cwd: REPO_ROOT,
        env: { PTE_FARM_PYTHON: realPython },
      },
    );
    expect(res.exitCode, res.stderr).toBe(0);
    const report = JSON.parse(await readFile(path.join(out, "health.json"), "utf8"));
    expect(report.state).toBe("good");
    const check = (name: string) => report.checks.find((c: { name: string }) => c.name === name);
    expect(check("emulation")).toMatchObject({
      status: "pass",
      data: { cpu_model: "cortex-a76", qemu: expect.stringMatching(/^qemu-aarch64 version /) },
    });
    expect(check("emulation").data.pins.executorch).toMatch(/^\d+\.\d+/);
    expect(check("smoke-pte")).toMatchObject({ status: "pass", data: { ok: true } });
    // Without the environment the device is bad, saying what to build.
    const missing = await execa(process.execPath, [CLI, "health", "--device", "pi5-emu", "--out", out], {
      reject: false,
      cwd: REPO_ROOT,
      env: { PTE_FARM_PYTHON: realPython, PTE_FARM_ARM64_ENV: path.join(out, "none") },
    });
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stdout + missing.stderr).toContain("is not built: run make arm64-env");
  });
});
