/**
 * `pte-farm validate` on broken matrices: every mistake exits 2 with file:line:col pointing at the
 * culprit and, for a bad name, the allowed values. Each broken matrix is the shipped farm.yml with
 * one edit, and the expected position is computed from the edited text, not hard-coded.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { DEFAULT_MATRIX, REPO_ROOT } from "../actions/src/core/paths.ts";
import { runnableCell } from "../actions/src/pipeline/runnable-cell.ts";
import { buildRunRecord } from "../actions/src/records/build.ts";
import { parseCellId } from "../actions/src/schemas/cell-id.ts";
import type { CellRef } from "../actions/src/schemas/stage.ts";
import { makeCell } from "../matrix/cells.ts";
import { loadFarm } from "../matrix/load.ts";
import { tempDir } from "./helpers/env.ts";
import { record } from "./helpers/records.ts";

const CLI = path.join(REPO_ROOT, "actions", "src", "cli", "pte-farm.ts");

/** The shipped farm.yml with one edit, written to a temp file; returns the file and its text. */
async function farmWith(edit: (text: string) => string): Promise<{ file: string; text: string }> {
  const original = await readFile(DEFAULT_MATRIX, "utf8");
  const text = edit(original);
  expect(text, "the edit must change the farm").not.toBe(original);
  const file = path.join(await tempDir(), "farm.yml");
  await writeFile(file, text);
  return { file, text };
}

/** `line:col` (1-based) of the `nth` occurrence of `needle` in `text`, plus `shift` columns. */
function pos(text: string, needle: string, nth = 1, shift = 0): string {
  let at = -1;
  for (let i = 0; i < nth; i++) at = text.indexOf(needle, at + 1);
  if (at < 0) throw new Error(`test bug: ${needle} not in the farm`);
  const before = text.slice(0, at).split("\n");
  return `${before.length}:${(before.at(-1)?.length ?? 0) + 1 + shift}`;
}

async function validate(file: string) {
  return execa(process.execPath, [CLI, "validate", "--matrix", file], { reject: false, cwd: REPO_ROOT });
}

describe("pte-farm validate", () => {
  it("accepts the shipped farm and says what it covers", async () => {
    const res = await validate(DEFAULT_MATRIX);
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/matrix\/farm\.yml: valid\. 7 devices, 9 models, 5 recipes, 7 backends/);
    expect(res.stdout).toMatch(/cell sets: host 13, twins 27, nightly \d+ \(\+\d+ skipped\), release \d+/);
  });

  it("reports YAML that does not parse at the line and column of the error", async () => {
    const { file } = await farmWith((t) => t.replace("max_new_tokens: 24", "max_new_tokens: [24"));
    const res = await validate(file);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(/^error: .*farm\.yml:\d+:\d+: the matrix file is not valid YAML: /m);
  });

  it("reports an unknown key at the key, listing the allowed keys", async () => {
    const { file, text } = await farmWith((t) =>
      t.replace("    board: raspberry-pi-5-8gb\n", "    board: raspberry-pi-5-8gb\n    colour: red\n"),
    );
    const res = await validate(file);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(
      `farm.yml:${pos(text, "colour")}: devices.pi5.colour: unknown key "colour"; allowed keys: runs_on, os, arch, board, driver, build_arch, memory_bandwidth_gbs, thermal, fork_prs, max_queue_minutes, session_minutes, local, emulation`,
    );
  });

  it("reports a cell set naming a device that does not exist, with the known devices", async () => {
    const { file, text } = await farmWith((t) =>
      t.replace("devices: [host-x86_64, host-arm64]", "devices: [host-x86_64, pi6]"),
    );
    const res = await validate(file);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(
      `farm.yml:${pos(text, "pi6")}: unknown device "pi6"; known devices: host-x86_64, host-arm64, pi5, pi5-emu, m1, corstone-300-u55, corstone-320-u85`,
    );
  });

  it("reports a cell set that asks for an Ethos-U backend on a Pi as impossible, at the backend", async () => {
    const { file, text } = await farmWith((t) =>
      t.replace(
        "  nightly: #",
        "  npu-on-pi:\n    models: [small-cnn]\n    backends: [ethos-u55-128]\n    devices: [pi5]\n  nightly: #",
      ),
    );
    const res = await validate(file);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(
      `farm.yml:${pos(text, "ethos-u55-128]")}: impossible cells: cell set npu-on-pi lists backend ethos-u55-128, ` +
        "but no cell of the set can use it: backend ethos-u55-128 runs only through drivers fvp; device pi5 uses llama-main",
    );
  });

  it("reports an include rule naming an impossible cell, with why", async () => {
    const { file, text } = await farmWith((t) =>
      t.replace(
        "cell: tiny-llama/8da4w-g32/xnnpack/pi5@stable",
        "cell: tiny-llama/8da4w-g32/ethos-u85-256/pi5@stable",
      ),
    );
    const res = await validate(file);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(
      `farm.yml:${pos(text, "tiny-llama/8da4w-g32/ethos-u85-256")}: impossible cell tiny-llama/8da4w-g32/ethos-u85-256/pi5@stable: ` +
        "a decoder-lm model (tiny-llama) uses only backends xnnpack, xnnpack-per-op, portable, portable-raw (model_kinds.decoder-lm.backends)",
    );
  });

  it("reports a value of the wrong type at the value, with what was expected", async () => {
    const { file, text } = await farmWith((t) =>
      t.replace("fork_prs: false # self-hosted", "fork_prs: nope # self-hosted"),
    );
    const res = await validate(file);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(
      `farm.yml:${pos(text, "nope")}: devices.pi5.fork_prs: expected a boolean, got "nope"`,
    );
  });

  it("lists the allowed drivers for a misspelt one", async () => {
    const { file, text } = await farmWith((t) => t.replace("driver: llama-main", "driver: llama_main"));
    const res = await validate(file);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(
      `farm.yml:${pos(text, "llama_main")}: devices.pi5.driver: expected one of "python-runtime" | "llama-main" | "fvp", got "llama_main"`,
    );
  });

  it("lists the model kinds for an unknown one", async () => {
    const { file, text } = await farmWith((t) => t.replace("kind: cnn #", "kind: rnn #"));
    const res = await validate(file);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(
      `farm.yml:${pos(text, "rnn")}: models.small-cnn.kind: expected one of "decoder-lm" | "cnn", got "rnn"`,
    );
  });

  it("rejects an exclude rule citing a known issue the catalogue does not have", async () => {
    const { file, text } = await farmWith((t) =>
      t.replace("known_issue: xnnpack-aarch64-fused-int4", "known_issue: xnnpack-fused-int5"),
    );
    const res = await validate(file);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(
      new RegExp(
        `farm\\.yml:${pos(text, "xnnpack-fused-int5")}: unknown known issue "xnnpack-fused-int5"; known known issues: xnnpack-aarch64-fused-int4, `,
      ),
    );
  });

  it("rejects an event that names a cell set that does not exist", async () => {
    const { file, text } = await farmWith((t) =>
      t.replace("push: { cells: host }", "push: { cells: hosts }"),
    );
    const res = await validate(file);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(
      `farm.yml:${pos(text, "cells: hosts", 1, 7)}: unknown cell set "hosts"; known cell sets: host, twins, nightly, release`,
    );
  });

  it("rejects a twin_of that names no model of the farm, at the field", async () => {
    const { file, text } = await farmWith((t) =>
      t.replace("    max_new_tokens: 24\n", "    max_new_tokens: 24\n    twin_of: gemma-4-e3b\n"),
    );
    const res = await validate(file);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(
      `farm.yml:${pos(text, "gemma-4-e3b")}: unknown model "gemma-4-e3b"; known models: gemma-4-e2b, llama-3.2-1b, opt-125m, gemma-4-tiny, llama-3.2-tiny, opt-tiny, small-cnn, small-cnn-lrn`,
    );
  });

  it("a hub model's cell that cannot run here names its twin's cell, which can, and its records carry that cell", async () => {
    const farm = await loadFarm(DEFAULT_MATRIX);
    const twins = [...farm.models.values()].filter((m) => m.twinOf !== null);
    expect(twins.length).toBeGreaterThan(0);
    for (const t of twins) {
      const hub = farm.models.get(t.twinOf as string);
      expect(hub?.twin).toBe(t.name);
    }
    const [t] = twins as [(typeof twins)[number]];
    const ref = parseCellId(`${t.twinOf}/fp32/portable/host-x86_64@stable`) as CellRef;
    const twinCell = `${t.name}/fp32/portable/host-x86_64@stable`;
    const cell = makeCell(farm, ref);
    const empty = await tempDir();
    expect(() => runnableCell(cell, { HF_HUB_CACHE: empty })).toThrow(
      `Its architecture runs here as the shipped twin ${t.name}: pte-farm run --cells '${twinCell}'`,
    );
    const recordOf = (c: typeof cell) =>
      buildRunRecord({
        cell: c,
        session: "s",
        role: "head",
        gitSha: null,
        startedAt: "2026-12-07T00:00:00Z",
        finishedAt: "2026-12-07T00:00:01Z",
        steps: [],
        device: record([]).device,
        telemetry: [],
        buildToolchain: null,
        deviceToolchain: null,
        reference: null,
        execute: null,
        gate: null,
        failure: null,
      });
    expect(recordOf(cell).twin_cell).toBe(twinCell);
    // The twin itself has no twin: its records carry none.
    expect(recordOf(makeCell(farm, parseCellId(twinCell) as CellRef)).twin_cell).toBeUndefined();
  });

  it("refuses two twins of one hub model, at the second's field", async () => {
    const farm = await loadFarm(DEFAULT_MATRIX);
    const [t] = [...farm.models.values()].filter((m) => m.twinOf !== null);
    const { file, text } = await farmWith((x) =>
      x.replace("    max_new_tokens: 24\n", `    max_new_tokens: 24\n    twin_of: ${t?.twinOf}\n`),
    );
    const res = await validate(file);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(new RegExp(`already has a twin, "(tiny-llama|${t?.name})"`));
    expect(text).toContain(`twin_of: ${t?.twinOf}`);
  });
});
