/**
 * One cell, two callers, one path: `pte-farm run` and the stage actions chained as a build job and
 * a device job chain them (export → quantize → lower → execute → gate, under GitHub's
 * `@github/local-action`) write the same run record for the same cell — equal in every field but
 * times, measured values and the session's own clock. Each side builds from its own empty cache,
 * so both report every build as a cache miss; the gate action is given the CLI record's session
 * and git sha, which a workflow takes from its run.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RecordingLogger } from "../actions/src/core/logger.ts";
import { DEFAULT_MATRIX, REPO_ROOT } from "../actions/src/core/paths.ts";
import { parseJson } from "../actions/src/core/validate.ts";
import { planOutputs } from "../actions/src/plan/outputs.ts";
import { type RunRecord, runRecord } from "../actions/src/schemas/run-record.ts";
import { STAGES } from "../actions/src/schemas/stage.ts";
import { hasRealPython, hasRealStage, hasTinyLlama, realPython } from "./helpers/env.ts";
import { runLocalAction } from "./helpers/local-action.ts";

const ready = hasRealPython && hasTinyLlama && STAGES.every(hasRealStage);
const why = ready
  ? ""
  : " [SKIPPED here: needs .venv (make setup), stages/pte_stages/*.py and stages/models/tiny-llama]";
const CELL = "tiny-llama/fp32/portable/host-x86_64@stable";
const CLI = path.join(REPO_ROOT, "actions", "src", "cli", "pte-farm.ts");

async function readRecord(file: string): Promise<RunRecord> {
  return parseJson(runRecord, await readFile(file, "utf8"), file);
}

/**
 * The record with what legitimately differs between two runs taken out: clocks (started/finished,
 * wall times, telemetry readings) and measured values (metric samples, the roofline built on
 * them). Every other field — cell, session, role, sha, status, toolchain, device, tokens, gate,
 * the .pte, delegation, the stages with their outcomes, cache states, folders and logs, the
 * failure — must be equal. Metric names, units and sample counts stay.
 */
function comparable(r: RunRecord): unknown {
  const metrics = Object.fromEntries(
    Object.entries(r.metrics).map(([name, m]) => [
      name,
      { ...m, samples: m.samples.length, ...("sample_flags" in m ? { sample_flags: undefined } : {}) },
    ]),
  );
  return {
    ...r,
    started_at: "T",
    finished_at: "T",
    telemetry: {
      samples: r.telemetry.samples.map((s) => s.label),
      reps: r.telemetry.reps?.length ?? null,
    },
    metrics,
    roofline: r.roofline === null || r.roofline === undefined ? null : Object.keys(r.roofline).sort(),
    stages: r.stages.map((s) => ({ ...s, wall_s: 0 })),
  };
}

describe.skipIf(!ready)("one path for a cell: pte-farm run and the actions", () => {
  let root: string;
  const env = { PTE_FARM_PYTHON: realPython, HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1" };

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "pte-farm-one-path-"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it(`writes the same run record either way, but for times and measured values${why}`, async () => {
    // pte-farm run, from its own empty cache.
    const cliOut = path.join(root, "cli-out");
    const cli = await execa(
      process.execPath,
      [CLI, "run", "--cells", CELL, "--out", cliOut, "--reps", "2", "--warmup", "0"],
      { reject: false, cwd: REPO_ROOT, env: { ...env, PTE_FARM_CACHE: path.join(root, "cli-cache") } },
    );
    expect(cli.exitCode, cli.stdout + cli.stderr).toBe(0);
    const local = await readRecord(path.join(cliOut, "cells", ...CELL.split("/"), "run.json"));

    // The same cell as a workflow runs it, from another empty cache: the plan's build entry, then
    // each stage action taking the earlier steps' outputs, all in one job folder.
    const plan = await planOutputs({ matrix: DEFAULT_MATRIX, event: "push", logger: new RecordingLogger() });
    const entry = (plan.builds as { include: { cells: string[] }[] }).include.find((b) =>
      b.cells.includes(CELL),
    );
    if (entry === undefined) throw new Error(`test bug: the push plan has no build for ${CELL}`);
    const build = JSON.stringify(entry);
    const job = {
      "cache-dir": path.join(root, "action-cache"),
      "out-dir": path.join(root, "job"),
      "timeout-s": "900",
    };
    const exp = await runLocalAction("export", { build, ...job }, env);
    expect(exp.exitCode, exp.stdout).toBe(0);
    const q = await runLocalAction(
      "quantize",
      { build, program: exp.outputs.program as string, ...job },
      env,
    );
    expect(q.exitCode, q.stdout).toBe(0);
    const low = await runLocalAction("lower", { build, program: q.outputs.program as string, ...job }, env);
    expect(low.exitCode, low.stdout).toBe(0);
    const built = { pte: low.outputs.pte as string, manifest: low.outputs.manifest as string };
    const reference = exp.outputs.reference as string;
    const exe = await runLocalAction(
      "execute",
      { cell: CELL, ...built, reference, reps: "2", warmup: "0", ...job },
      env,
    );
    expect(exe.exitCode, exe.stdout).toBe(0);
    const gate = await runLocalAction(
      "gate",
      {
        cell: CELL,
        reference,
        execute: exe.outputs.result as string,
        manifest: built.manifest,
        session: local.session,
        "git-sha": local.git_sha ?? "",
        ...job,
      },
      env,
    );
    expect(gate.exitCode, gate.stdout).toBe(0);
    const ci = await readRecord(gate.outputs.record as string);

    expect(comparable(ci)).toEqual(comparable(local));
    // What the comparison leaves out was still measured on both sides.
    expect(ci.metrics.decode_tokens_per_sec?.samples).toHaveLength(2);
    expect(local.metrics.decode_tokens_per_sec?.samples).toHaveLength(2);
    // And neither record names a path of the machine that made it.
    for (const r of [local, ci]) {
      const text = JSON.stringify(r);
      expect(text).not.toContain(root);
      expect(text).not.toContain(REPO_ROOT);
      for (const s of r.stages) expect(path.isAbsolute(s.dir)).toBe(false);
    }
  }, 900_000);
});
